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

-- name: lock_message(message_id, user_id)^
-- One message (deleted content masked) and the user's role in its room (NULL for a
-- non-member), or nothing when the message does not exist. Locks the message's room row,
-- then the message, until the transaction ends: edits and deletes append to the room's log
-- under the room lock, and taking it before the message's keeps the order senders and room
-- deletion use (room first, then its rows), so none of them can deadlock another.
WITH locked_room AS (
    SELECT r.id
    FROM messages AS msg
    INNER JOIN rooms AS r ON msg.room_id = r.id
    WHERE msg.id = :message_id
    FOR NO KEY UPDATE OF r
)

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
-- The message is joined on the locked room, so its own lock is taken after the room's (a
-- room deleted meanwhile leaves no row: NotFound).
FROM locked_room AS lr
INNER JOIN messages AS m ON lr.id = m.room_id
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
WHERE m.id = :message_id
FOR NO KEY UPDATE OF m;

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

-- name: insert_message(room_id, sender_id, kind, content, attachment, client_id)^
-- The new message plus its message.created log entry (event_* columns). In one statement:
-- bumps the room's last_seq and last_event_seq, inserts the message with that seq, moves
-- the sender's read marker to it (never backward) and appends the entry, whose payload is
-- the message exactly as a normal read returns it. Run after lock_room_for_send in the same
-- transaction (the room must exist).
-- Both seqs come from the one UPDATE of the room row, so a room's message seqs and
-- event_seqs advance together in commit order, and logging costs a send no extra round
-- trip. rooms_set_updated_at does not fire: sending is not an edit of the room. A retried
-- send (same client_id) never reaches this statement (find_by_client_id returns the first
-- message), so it appends nothing.
WITH bumped AS (
    UPDATE rooms
    SET
        last_seq = last_seq + 1,
        last_event_seq = last_event_seq + 1,
        last_message_at = now()
    WHERE id = :room_id
    RETURNING last_seq, last_event_seq
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
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        i.room_id,
        b.last_event_seq,
        'message.created' AS event_type,
        i.sender_id,
        -- jsonb_build_object renders uuids and timestamps as to_jsonb does: ISO 8601
        -- strings (with the session's UTC offset), the shape a normal read serialises to.
        jsonb_build_object(
            'id', i.id,
            'room_id', i.room_id,
            'seq', i.seq,
            'sender_id', i.sender_id,
            'kind', i.kind,
            'content', i.content,
            'attachment', i.attachment,
            'client_id', i.client_id,
            'created_at', i.created_at,
            'edited_at', i.edited_at,
            'edit_count', i.edit_count,
            'deleted', FALSE
        ) AS payload
    FROM inserted AS i
    CROSS JOIN bumped AS b
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
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
    i.deleted_at,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
-- The entry under event_* names, since the message's own row has room_id and created_at.
FROM inserted AS i
CROSS JOIN logged AS l;

-- name: edit_message(room_id, message_id, content, editor_id)^
-- The edited message plus its message.edited log entry (event_* columns), or nothing when
-- it does not exist or is deleted. Keeps the current version in message_revisions
-- (revision = edit_count + 1, written when the message was created or last edited),
-- replaces the content, bumps the room's last_event_seq and appends the entry (the message
-- as a normal read returns it). Run after lock_message (which holds the room lock).
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
),

edited AS (
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
        m.deleted_at
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM edited AS e
    WHERE r.id = e.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        e.room_id,
        b.last_event_seq,
        'message.edited' AS event_type,
        :editor_id AS actor_id,
        jsonb_build_object(
            'id', e.id,
            'room_id', e.room_id,
            'seq', e.seq,
            'sender_id', e.sender_id,
            'kind', e.kind,
            'content', e.content,
            'attachment', e.attachment,
            'client_id', e.client_id,
            'created_at', e.created_at,
            'edited_at', e.edited_at,
            'edit_count', e.edit_count,
            'deleted', FALSE
        ) AS payload
    FROM edited AS e
    INNER JOIN bumped AS b ON e.room_id = b.id
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    e.id,
    e.room_id,
    e.seq,
    e.sender_id,
    e.kind,
    e.content,
    e.attachment,
    e.client_id,
    e.created_at,
    e.edited_at,
    e.edit_count,
    e.deleted_at,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
FROM edited AS e
CROSS JOIN logged AS l;

-- name: soft_delete_message(room_id, message_id, deleted_by)^
-- The message marked deleted (content and attachment masked) plus its message.deleted log
-- entry (event_* columns: id, room_id, seq, deleted_at, deleted_by, never the content), or
-- nothing when it does not exist or was already deleted. The row and its seq stay. Run
-- after lock_message (which holds the room lock).
WITH deleted AS (
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
        m.deleted_by
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM deleted AS d
    WHERE r.id = d.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        d.room_id,
        b.last_event_seq,
        'message.deleted' AS event_type,
        d.deleted_by,
        jsonb_build_object(
            'id', d.id,
            'room_id', d.room_id,
            'seq', d.seq,
            'deleted_at', d.deleted_at,
            'deleted_by', d.deleted_by
        ) AS payload
    FROM deleted AS d
    INNER JOIN bumped AS b ON d.room_id = b.id
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    d.id,
    d.room_id,
    d.seq,
    d.sender_id,
    d.kind,
    d.client_id,
    d.created_at,
    d.edited_at,
    d.edit_count,
    d.deleted_at,
    NULL::text AS content,  -- noqa: RF04
    NULL::jsonb AS attachment,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
FROM deleted AS d
CROSS JOIN logged AS l;
