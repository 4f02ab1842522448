-- Messages: sending (per-room seqs), reading (keyset and offset pages), edits, soft deletes.
--
-- Every read masks a soft-deleted message's content and attachment with CASE, so deleted
-- text never leaves the database through a normal read. Room reads start from the room and
-- the reader's membership row, and join the messages on that row: a non-member gets the
-- room row with no messages, so the caller can tell "no such room", "not a member" and
-- "no messages here" apart in one round trip.

-- name: send_message(message_id, room_id, sender_id, kind, content, attachment, client_id)^
-- Sends a message in one statement, and always returns one row saying what happened:
-- room_found and is_member; then either the new message with its message.created log
-- entry (event_* columns), or the message this send already stored (a retry: the same
-- message_id, or the same client_id from this sender in this room) with same_payload
-- telling whether it carried the same kind, original content and attachment; or neither,
-- when the room was deleted while this statement waited for it.
-- Bumping the room's last_seq and last_event_seq locks the room row, so senders to one room
-- queue there and both seqs advance together, gap-free in commit order; the message takes
-- that seq, the sender's read marker moves to it (never backward) and the entry's payload
-- is the message exactly as a normal read returns it. A retry this statement's snapshot
-- could not see (it committed while we waited for the lock) fails on messages_pkey or
-- messages_client_id_key, writing nothing: run the statement again to read it.
-- rooms_set_updated_at does not fire: sending is not an edit of the room.
WITH target AS (
    SELECT
        r.id,
        ru.user_id IS NOT NULL AS is_member
    FROM rooms AS r
    LEFT JOIN room_users AS ru
        ON r.id = ru.room_id AND ru.user_id = :sender_id
    WHERE r.id = :room_id
),

earlier AS (
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
        -- Compared here so stored content never has to leave the database; an edited
        -- message is compared by its original text (revision 1).
        coalesce(
            m.kind = :kind::text
            AND coalesce(original.content, m.content) = :content::text
            AND m.attachment IS NOT DISTINCT FROM :attachment::jsonb,
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
        AND (m.id = :message_id OR m.client_id = :client_id::text)
    ORDER BY m.seq ASC
    LIMIT 1
),

bumped AS (
    UPDATE rooms AS r
    SET
        last_seq = r.last_seq + 1,
        last_event_seq = r.last_event_seq + 1,
        last_message_at = now()
    FROM target AS t
    WHERE
        r.id = t.id
        AND t.is_member
        AND NOT EXISTS (SELECT 1 FROM earlier)
    RETURNING r.id, r.last_seq, r.last_event_seq
),

inserted AS (
    INSERT INTO messages (id, room_id, seq, sender_id, kind, content, attachment, client_id)
    SELECT
        :message_id::uuid AS id,
        b.id AS room_id,
        b.last_seq AS seq,
        :sender_id::uuid AS sender_id,
        :kind::text AS kind,
        :content::text AS content,  -- noqa: RF04
        :attachment::jsonb AS attachment,
        :client_id::text AS client_id
    FROM bumped AS b
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
    e.same_payload,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at,
    t.id IS NOT NULL AS room_found,
    coalesce(t.is_member, FALSE) AS is_member,
    coalesce(i.id, e.id) AS id,
    coalesce(i.room_id, e.room_id) AS room_id,
    coalesce(i.seq, e.seq) AS seq,
    coalesce(i.sender_id, e.sender_id) AS sender_id,
    coalesce(i.kind, e.kind) AS kind,
    coalesce(i.content, e.content) AS content,  -- noqa: RF04
    coalesce(i.attachment, e.attachment) AS attachment,
    coalesce(i.client_id, e.client_id) AS client_id,
    coalesce(i.created_at, e.created_at) AS created_at,
    coalesce(i.edited_at, e.edited_at) AS edited_at,
    coalesce(i.edit_count, e.edit_count) AS edit_count,
    coalesce(i.deleted_at, e.deleted_at) AS deleted_at
-- One row whatever happened: each part joins on TRUE and is empty when it did not run.
FROM (SELECT) AS one  -- noqa: ST11
LEFT JOIN target AS t ON TRUE
LEFT JOIN earlier AS e ON TRUE
LEFT JOIN inserted AS i ON TRUE
LEFT JOIN logged AS l ON TRUE;

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
