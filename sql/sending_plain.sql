-- Sending a message that is neither a thread reply nor mentions anyone: most messages.
-- chatstore.repositories.sending picks this statement then, and sending.sql's
-- send_message otherwise. The two return the same row and write the same message, entry
-- and marker; this one leaves out the thread, mention and follow steps. Each of those is
-- empty for such a message, but PostgreSQL still opens and locks their tables and indexes
-- on every execution, which cost a plain send about a quarter more.
--
-- noqa: disable=LT05

-- name: send_plain_message(message_id, room_id, sender_id, kind, content, attachment, client_id, reply_to_id)^
-- send_message for a message without thread_root_id, mention_ids or mentions_room: the
-- same checks (room, membership, idempotency keys, the quoted message), the same row out
-- (thread_ok and room_mention_ok always TRUE), the same message.created entry.
-- A retry of a message stored as a thread reply or with mentions_room has another payload:
-- Conflict, as in send_message.
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
        m.thread_root_id,
        m.thread_seq,
        m.shown_in_room,
        m.mentions_room,
        CASE WHEN m.deleted_at IS NULL THEN m.mentioned_ids ELSE '{}' END AS mentioned_ids,
        CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
        CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment,
        -- Compared here so stored content never has to leave the database; an edited
        -- message is compared by its original text (revision 1).
        coalesce(
            m.kind = :kind::text
            AND coalesce(original.content, m.content) = :content::text
            AND m.attachment IS NOT DISTINCT FROM :attachment::jsonb
            AND m.reply_to_id IS NOT DISTINCT FROM :reply_to_id::uuid
            AND m.thread_root_id IS NULL
            AND NOT m.mentions_room,
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
checks AS (
    SELECT
        :reply_to_id::uuid IS NULL OR EXISTS (
            SELECT 1
            FROM messages AS q
            WHERE
                q.room_id = :room_id
                AND q.id = :reply_to_id::uuid
                AND q.deleted_at IS NULL
        ) AS reply_ok
),

bumped AS (
    UPDATE rooms AS r
    SET
        last_seq = r.last_seq + 1,
        last_event_seq = r.last_event_seq + 1,
        last_message_at = now()
    FROM target AS t
    CROSS JOIN checks AS c
    WHERE
        r.id = t.id
        AND t.is_member
        AND c.reply_ok
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
        reply_to_id,
        thread_root_id,
        thread_seq,
        shown_in_room,
        mentioned_ids,
        mentions_room
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
        -- The payload send_message builds, with its thread parts empty.
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
            'reply_to', quoted_preview(i.room_id, i.reply_to_id),
            'thread_root_id', i.thread_root_id,
            'thread_seq', i.thread_seq,
            'shown_in_room', i.shown_in_room,
            'mentions', i.mentioned_ids,
            'mentions_room', i.mentions_room,
            'thread', NULL,
            'new_followers', '[]'::jsonb
        ) AS payload
    FROM inserted AS i
    CROSS JOIN bumped AS b
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    e.same_payload,
    c.reply_ok,
    TRUE AS thread_ok,
    TRUE AS room_mention_ok,
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
    coalesce(i.thread_root_id, e.thread_root_id) AS thread_root_id,
    coalesce(i.thread_seq, e.thread_seq) AS thread_seq,
    coalesce(i.shown_in_room, e.shown_in_room) AS shown_in_room,
    coalesce(i.mentioned_ids, e.mentioned_ids) AS mentioned_ids,
    coalesce(i.mentions_room, e.mentions_room) AS mentions_room,
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
CROSS JOIN checks AS c
LEFT JOIN earlier AS e ON TRUE
LEFT JOIN inserted AS i ON TRUE
LEFT JOIN logged AS l ON TRUE;
