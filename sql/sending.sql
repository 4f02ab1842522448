-- Sending a message: one statement (chatstore.repositories.sending) that locks the room,
-- checks membership, the idempotency keys and the quoted message, takes the next seq,
-- inserts, moves the sender's read marker and appends the change-log entry.
--
-- The message returned is masked as every read in messages.sql masks one: a soft-deleted
-- message's content, attachment and quote never leave the database.
--
-- aiosql reads a query's name line as one line, and send_message's declares eight
-- parameters: longer than the line limit, so that rule is off for this file.
-- noqa: disable=LT05

-- name: send_message(message_id, room_id, sender_id, kind, content, attachment, client_id, reply_to_id)^
-- Sends a message in one statement, and always returns one row saying what happened:
-- room_found and is_member; then either the new message with its message.created log
-- entry (event_* columns), or the message this send already stored (a retry: the same
-- message_id, or the same client_id from this sender in this room) with same_payload
-- telling whether it carried the same kind, original content, attachment and quoted
-- message; or neither, when the room was deleted while this statement waited for it, or
-- when reply_to_id names no message of this room that is not deleted (reply_ok FALSE:
-- nothing written).
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
        m.reply_to_id,
        CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
        CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment,
        -- Compared here so stored content never has to leave the database; an edited
        -- message is compared by its original text (revision 1).
        coalesce(
            m.kind = :kind::text
            AND coalesce(original.content, m.content) = :content::text
            AND m.attachment IS NOT DISTINCT FROM :attachment::jsonb
            AND m.reply_to_id IS NOT DISTINCT FROM :reply_to_id::uuid,
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

-- The message a reply quotes: one of this room, not deleted (a NULL reply_to_id: no row).
quoted AS (
    SELECT q.id
    FROM messages AS q
    WHERE
        q.room_id = :room_id
        AND q.id = :reply_to_id::uuid
        AND q.deleted_at IS NULL
),

reply AS (
    SELECT :reply_to_id::uuid IS NULL OR EXISTS (SELECT 1 FROM quoted) AS reply_ok
),

bumped AS (
    UPDATE rooms AS r
    SET
        last_seq = r.last_seq + 1,
        last_event_seq = r.last_event_seq + 1,
        last_message_at = now()
    FROM target AS t
    CROSS JOIN reply AS rp
    WHERE
        r.id = t.id
        AND t.is_member
        AND rp.reply_ok
        AND NOT EXISTS (SELECT 1 FROM earlier)
    RETURNING r.id, r.last_seq, r.last_event_seq
),

inserted AS (
    INSERT INTO messages (
        id, room_id, seq, sender_id, kind, content, attachment, client_id, reply_to_id
    )
    SELECT
        :message_id::uuid AS id,
        b.id AS room_id,
        b.last_seq AS seq,
        :sender_id::uuid AS sender_id,
        :kind::text AS kind,
        :content::text AS content,  -- noqa: RF04
        :attachment::jsonb AS attachment,
        :client_id::text AS client_id,
        :reply_to_id::uuid AS reply_to_id
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
        deleted_at,
        reply_to_id
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
            'deleted', FALSE,
            'reply_to', quoted_preview(i.room_id, i.reply_to_id)
        ) AS payload
    FROM inserted AS i
    CROSS JOIN bumped AS b
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    e.same_payload,
    rp.reply_ok,
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
    coalesce(i.deleted_at, e.deleted_at) AS deleted_at,
    CASE
        WHEN coalesce(i.deleted_at, e.deleted_at) IS NULL
            THEN
                quoted_preview(
                    coalesce(i.room_id, e.room_id), coalesce(i.reply_to_id, e.reply_to_id)
                )
    END AS reply_to
-- One row whatever happened: each part joins on TRUE and is empty when it did not run.
FROM (SELECT) AS one  -- noqa: ST11
LEFT JOIN target AS t ON TRUE
CROSS JOIN reply AS rp
LEFT JOIN earlier AS e ON TRUE
LEFT JOIN inserted AS i ON TRUE
LEFT JOIN logged AS l ON TRUE;
