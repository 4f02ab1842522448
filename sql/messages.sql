-- Messages: reading (keyset and offset pages), edits, soft deletes. Sending is in sending.sql.
--
-- Every read masks a soft-deleted message's content and attachment with CASE, so deleted
-- text never leaves the database through a normal read. Room reads start from the room and
-- the reader's membership row, and join the messages on that row: a non-member gets the
-- room row with no messages, so the caller can tell "no such room", "not a member" and
-- "no messages here" apart in one round trip.

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
    CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment,
    CASE
        WHEN m.deleted_at IS NULL THEN quoted_preview(m.room_id, m.reply_to_id)
    END AS reply_to
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
    CASE
        WHEN
            m.deleted_at IS NULL AND ru.user_id IS NOT NULL
            THEN quoted_preview(m.room_id, m.reply_to_id)
    END AS reply_to,
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
    m.reply_to,
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
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment,
        -- The quoted message's preview (quoted_preview: one index lookup, none when the
        -- message quotes nothing); a deleted message shows no quote either.
        CASE
            WHEN msg.deleted_at IS NULL THEN quoted_preview(msg.room_id, msg.reply_to_id)
        END AS reply_to
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
    m.reply_to,
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
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment,
        -- The quoted message's preview (quoted_preview: one index lookup, none when the
        -- message quotes nothing); a deleted message shows no quote either.
        CASE
            WHEN msg.deleted_at IS NULL THEN quoted_preview(msg.room_id, msg.reply_to_id)
        END AS reply_to
    FROM messages AS msg
    -- Keyed on the membership row: a non-member's NULL room_id matches no message. Seqs
    -- are gap-free (see page_by_offset), so the next `limit` messages are exactly the
    -- closed range below: whatever plan is picked, it reads no more than `limit` rows.
    WHERE
        msg.room_id = ru.room_id
        AND msg.seq > :after_seq
        AND msg.seq <= :after_seq + :limit
    ORDER BY msg.seq ASC
    LIMIT :limit
) AS m ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq ASC;

-- name: page_by_offset(room_id, user_id, limit, offset)
-- The seed's offset pagination: up to `limit` messages newest first after skipping the
-- `offset` newest, with the same extra columns and empty-result rows as page_before.
-- A NULL user_id reads as the server itself, with no membership check.
-- Relies on a room's seqs being exactly 1..rooms.last_seq: sending takes each seq from
-- the room row's last_seq bump in the one statement that inserts the message, and
-- messages are only soft-deleted (rows go only with their room). So the message `offset`
-- places below the newest has seq last_seq - offset, and the page is the closed seq range
-- of the `limit` seqs from there down, read on messages_room_seq_key: no rows skipped, so
-- the cost does not grow with the offset (LIMIT/OFFSET read and threw away `offset` rows,
-- and in a big room the planner, estimating an average room, sorted all of them). Closed
-- at both ends, it holds at most `limit` rows whichever plan the planner picks. The one
-- statement reads last_seq and the messages from one snapshot, in which every seq up to
-- last_seq is visible. If seqs ever get holes, this query must go back to counting rows.
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
    m.reply_to,
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
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment,
        -- The quoted message's preview (quoted_preview: one index lookup, none when the
        -- message quotes nothing); a deleted message shows no quote either.
        CASE
            WHEN msg.deleted_at IS NULL THEN quoted_preview(msg.room_id, msg.reply_to_id)
        END AS reply_to
    FROM messages AS msg
    WHERE
        msg.room_id = r.id
        AND msg.seq <= r.last_seq - :offset
        AND msg.seq > r.last_seq - :offset - :limit
        AND (ru.user_id IS NOT NULL OR :user_id::uuid IS NULL)
    ORDER BY msg.seq DESC
    LIMIT :limit
) AS m ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq DESC;

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
        m.deleted_at,
        m.reply_to_id
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
            'deleted', FALSE,
            'reply_to', quoted_preview(e.room_id, e.reply_to_id)
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
    l.created_at AS event_created_at,
    quoted_preview(e.room_id, e.reply_to_id) AS reply_to
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
    NULL::jsonb AS reply_to,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
FROM deleted AS d
CROSS JOIN logged AS l;
