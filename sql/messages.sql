-- Messages: sending (per-room seqs), reading (keyset and offset pages), edits, soft deletes.
--
-- Every read masks a soft-deleted message's content and attachment with CASE, so deleted
-- text never leaves the database through a normal read. Room reads start from the room and
-- the reader's membership row, and join the messages on that row: a non-member gets the
-- room row with no messages, so the caller can tell "no such room", "not a member" and
-- "no messages here" apart in one round trip.

-- name: lock_room_for_send(room_id, sender_id)^
-- The room's id, locked until the transaction ends so senders to one room queue up, and
-- whether the sender is a member; nothing when the room does not exist.
-- NO KEY UPDATE: it serialises senders without blocking inserts that reference the room.
SELECT
    r.id,
    ru.user_id IS NOT NULL AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :sender_id
WHERE r.id = :room_id
FOR NO KEY UPDATE OF r;

-- name: find_by_client_id(room_id, sender_id, client_id, kind, content, attachment)^
-- The message this sender already sent to the room under this client id, or nothing, with
-- same_payload telling whether it carried the same kind, original content and attachment.
-- Run after lock_room_for_send, so a concurrent retry has either committed or not started.
SELECT
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
    CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment,
    -- Compared here so stored content never has to leave the database; an edited message
    -- is compared by its original text (revision 1).
    coalesce(
        m.kind = :kind
        AND coalesce(original.content, m.content) = :content
        AND m.attachment IS NOT DISTINCT FROM :attachment,
        FALSE
    ) AS same_payload
FROM messages AS m
LEFT JOIN message_revisions AS original
    ON
        m.room_id = original.room_id
        AND m.id = original.message_id
        AND original.revision = 1
WHERE
    m.room_id = :room_id
    AND m.sender_id = :sender_id
    AND m.client_id = :client_id;

-- name: insert_message(room_id, sender_id, kind, content, attachment, client_id)^
-- Appends a message and returns it: bumps the room's last_seq, inserts the message with
-- that seq and moves the sender's read marker to it (never backward), in one statement.
-- Run after lock_room_for_send in the same transaction (the room must exist).
WITH bumped AS (
    UPDATE rooms
    SET last_seq = last_seq + 1, last_message_at = now()
    WHERE id = :room_id
    RETURNING last_seq
),

inserted AS (
    INSERT INTO messages (room_id, seq, sender_id, kind, content, attachment, client_id)
    VALUES (
        :room_id,
        (SELECT b.last_seq FROM bumped AS b),
        :sender_id,
        :kind,
        :content,
        :attachment,
        :client_id
    )
    RETURNING
        id,
        room_id,
        seq,
        sender_id,
        kind,
        content,
        attachment,
        client_id,
        created_at,
        edited_at,
        edit_count,
        deleted_at
),

marker AS (
    UPDATE room_users AS ru
    SET
        last_read_seq = greatest(ru.last_read_seq, i.seq),
        last_read_at = now()
    FROM inserted AS i
    WHERE ru.room_id = i.room_id AND ru.user_id = i.sender_id
    RETURNING ru.user_id
)

SELECT
    i.id,
    i.room_id,
    i.seq,
    i.sender_id,
    i.kind,
    i.content,
    i.attachment,
    i.client_id,
    i.created_at,
    i.edited_at,
    i.edit_count,
    i.deleted_at
FROM inserted AS i;

-- name: get_message(message_id, user_id)^
-- One message and whether the user is a member of its room (content and attachment only
-- for members, and never for a deleted message); nothing when the message does not exist.
SELECT
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    CASE
        WHEN m.deleted_at IS NULL AND ru.user_id IS NOT NULL THEN m.content
    END AS content,  -- noqa: RF04
    CASE
        WHEN m.deleted_at IS NULL AND ru.user_id IS NOT NULL THEN m.attachment
    END AS attachment,
    ru.user_id IS NOT NULL AS is_member
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
WHERE m.id = :message_id;

-- name: page_before(room_id, user_id, before_seq, limit)
-- Up to `limit` messages with seq < before_seq, newest first, each row also carrying the
-- room's last_seq and whether the user is a member. No rows: no such room. One row with a
-- NULL id: a non-member, or no messages in that range. Walks messages_room_seq_key
-- backward from before_seq, so the cost does not grow with depth.
SELECT
    r.last_seq AS room_last_seq,
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.content,
    m.attachment,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    ru.user_id IS NOT NULL AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        msg.id,
        msg.room_id,
        msg.seq,
        msg.sender_id,
        msg.kind,
        msg.client_id,
        msg.created_at,
        msg.edited_at,
        msg.edit_count,
        msg.deleted_at,
        CASE WHEN msg.deleted_at IS NULL THEN msg.content END AS content,  -- noqa: RF04
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment
    FROM messages AS msg
    -- Keyed on the membership row: a non-member's NULL room_id matches no message.
    WHERE msg.room_id = ru.room_id AND msg.seq < :before_seq
    ORDER BY msg.seq DESC
    LIMIT :limit
) AS m ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq DESC;

-- name: page_after(room_id, user_id, after_seq, limit)
-- Up to `limit` messages with seq > after_seq, oldest first (catch-up after a reconnect),
-- with the same extra columns and empty-result rows as page_before. Walks
-- messages_room_seq_key forward from after_seq, so the cost does not grow with depth.
SELECT
    r.last_seq AS room_last_seq,
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.content,
    m.attachment,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    ru.user_id IS NOT NULL AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        msg.id,
        msg.room_id,
        msg.seq,
        msg.sender_id,
        msg.kind,
        msg.client_id,
        msg.created_at,
        msg.edited_at,
        msg.edit_count,
        msg.deleted_at,
        CASE WHEN msg.deleted_at IS NULL THEN msg.content END AS content,  -- noqa: RF04
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment
    FROM messages AS msg
    -- Keyed on the membership row: a non-member's NULL room_id matches no message.
    WHERE msg.room_id = ru.room_id AND msg.seq > :after_seq
    ORDER BY msg.seq ASC
    LIMIT :limit
) AS m ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq ASC;

-- name: page_by_offset(room_id, user_id, limit, offset)
-- The seed's offset pagination: up to `limit` messages newest first after skipping the
-- `offset` newest, with the same extra columns and empty-result rows as page_before.
-- A NULL user_id reads as the server itself, with no membership check.
-- Its cost grows with the offset; page_before is the recommended path.
SELECT
    r.last_seq AS room_last_seq,
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.content,
    m.attachment,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    (ru.user_id IS NOT NULL OR :user_id::uuid IS NULL) AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        msg.id,
        msg.room_id,
        msg.seq,
        msg.sender_id,
        msg.kind,
        msg.client_id,
        msg.created_at,
        msg.edited_at,
        msg.edit_count,
        msg.deleted_at,
        CASE WHEN msg.deleted_at IS NULL THEN msg.content END AS content,  -- noqa: RF04
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment
    FROM messages AS msg
    WHERE
        msg.room_id = r.id
        AND (ru.user_id IS NOT NULL OR :user_id::uuid IS NULL)
    ORDER BY msg.seq DESC
    LIMIT :limit OFFSET :offset
) AS m ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq DESC;

-- name: lock_message(message_id, user_id)^
-- One message (deleted content masked), locked until the transaction ends so edits and
-- deletes of it queue up, and the user's role in its room (NULL for a non-member);
-- nothing when the message does not exist.
SELECT
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    ru.role AS actor_role,
    CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
    CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
WHERE m.id = :message_id
FOR NO KEY UPDATE OF m;

-- name: edit_message(room_id, message_id, content, editor_id)^
-- Keeps the current version in message_revisions (revision = edit_count + 1, written when
-- the message was created or last edited) and replaces the content; returns the edited
-- message, or nothing when it does not exist or is deleted. Run after lock_message.
WITH previous AS (
    INSERT INTO message_revisions (
        room_id, message_id, content, attachment, revision, edited_by, written_at
    )
    SELECT
        m.room_id,
        m.id AS message_id,
        m.content,
        m.attachment,
        m.edit_count + 1 AS revision,
        :editor_id AS edited_by,
        coalesce(m.edited_at, m.created_at) AS written_at
    FROM messages AS m
    WHERE m.room_id = :room_id AND m.id = :message_id AND m.deleted_at IS NULL
    RETURNING revision
)

UPDATE messages AS m
SET
    content = :content,
    edited_at = now(),
    edit_count = m.edit_count + 1
FROM previous AS p
-- Joined on the revision just kept: no revision written, no edit.
WHERE
    m.room_id = :room_id
    AND m.id = :message_id
    AND m.deleted_at IS NULL
    AND p.revision = m.edit_count + 1
RETURNING
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.content,
    m.attachment,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at;

-- name: soft_delete_message(room_id, message_id, deleted_by)^
-- Marks a message deleted (the row and its seq stay) and returns it with content and
-- attachment masked; nothing when it does not exist or was already deleted.
UPDATE messages AS m
SET deleted_at = now(), deleted_by = :deleted_by
WHERE m.room_id = :room_id AND m.id = :message_id AND m.deleted_at IS NULL
RETURNING
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
    CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment;

-- name: message_history(message_id, user_id)
-- A message's previous versions, oldest first, each row carrying whether the user is a
-- member and whether the message is deleted. No rows: no such message. One row with a
-- NULL revision: never edited, deleted (its history is content too), or a non-member.
SELECT
    rv.message_id,
    rv.revision,
    rv.content,
    rv.edited_by,
    rv.written_at,
    rv.replaced_at,
    ru.user_id IS NOT NULL AS is_member,
    m.deleted_at IS NOT NULL AS is_deleted
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
-- Keyed on the membership row (non-members get no revisions) and on not being deleted.
LEFT JOIN message_revisions AS rv
    ON
        ru.room_id = rv.room_id
        AND m.id = rv.message_id
        AND m.deleted_at IS NULL
WHERE m.id = :message_id
ORDER BY rv.revision ASC;
