-- Editing and soft-deleting messages (chatstore.repositories.messages), each run inside a
-- transaction after messages.lock_message, which holds the room row lock: every statement
-- here that appends to the change log does so under it. Mentions change with an edit
-- (replace_mentions, before edit_message) and go with a deletion (soft_delete_message), so
-- unread-mention counts stay exact; a deleted thread reply leaves its thread's count.

-- name: replace_mentions(room_id, message_id, mention_ids, mentions_room)^
-- Sets the members a message (not deleted) mentions to those of mention_ids who are
-- members now, other than its sender, in the order given (anyone else is dropped), and its
-- mentions_room flag (NULL keeps it). Deletes the mention rows of members no longer named,
-- adds rows for the new ones, and in a thread makes each newly mentioned member follow it
-- from the reply that mentions them (an existing follow keeps its marker). Returns the
-- members added and removed and whether the flag turned on; nothing for a missing or
-- deleted message. O(number mentioned) writes.
WITH msg AS (
    SELECT
        m.id,
        m.room_id,
        m.seq,
        m.sender_id,
        m.thread_root_id,
        m.thread_seq,
        m.created_at,
        m.mentions_room
    FROM messages AS m
    WHERE m.room_id = :room_id AND m.id = :message_id AND m.deleted_at IS NULL
),

-- One room_users_pkey probe per id, driven from the ids (as sending.sql's `mentioned`).
wanted AS (
    SELECT
        ru.user_id,
        min(ids.place) AS place
    FROM msg
    CROSS JOIN unnest(:mention_ids::uuid[]) WITH ORDINALITY AS ids (user_id, place)
    INNER JOIN room_users AS ru
        ON msg.room_id = ru.room_id AND ids.user_id = ru.user_id
    WHERE ru.user_id IS DISTINCT FROM msg.sender_id
    GROUP BY ru.user_id
),

removed AS (
    DELETE FROM message_mentions AS mm
    USING msg
    WHERE
        mm.room_id = msg.room_id
        AND mm.message_id = msg.id
        AND NOT EXISTS (
            SELECT 1 FROM wanted AS w
            WHERE w.user_id = mm.user_id
        )
    RETURNING mm.user_id
),

added AS (
    INSERT INTO message_mentions (
        message_id, user_id, room_id, seq, thread_root_id, thread_seq, created_at
    )
    SELECT
        msg.id AS message_id,
        w.user_id,
        msg.room_id,
        msg.seq,
        msg.thread_root_id,
        msg.thread_seq,
        msg.created_at
    FROM msg
    CROSS JOIN wanted AS w
    ON CONFLICT (room_id, message_id, user_id) DO NOTHING
    RETURNING user_id
),

followed AS (
    INSERT INTO thread_follows (root_id, user_id, room_id, last_read_thread_seq)
    SELECT
        msg.thread_root_id AS root_id,
        a.user_id,
        msg.room_id,
        msg.thread_seq - 1 AS last_read_thread_seq
    FROM msg
    CROSS JOIN added AS a
    WHERE msg.thread_root_id IS NOT NULL
    ON CONFLICT (room_id, root_id, user_id) DO NOTHING
    RETURNING user_id
),

updated AS (
    UPDATE messages AS m
    SET
        mentioned_ids = coalesce(
            (SELECT array_agg(w.user_id ORDER BY w.place) FROM wanted AS w), '{}'
        ),
        mentions_room = coalesce(:mentions_room::boolean, m.mentions_room)
    FROM msg
    WHERE m.room_id = msg.room_id AND m.id = msg.id
    RETURNING m.mentions_room
)

SELECT
    coalesce((SELECT array_agg(a.user_id) FROM added AS a), '{}') AS added_ids,
    coalesce((SELECT array_agg(r.user_id) FROM removed AS r), '{}') AS removed_ids,
    coalesce((SELECT array_agg(f.user_id) FROM followed AS f), '{}') AS new_follower_ids,
    u.mentions_room AND NOT msg.mentions_room AS room_mention_added
FROM msg
CROSS JOIN updated AS u;

-- name: edit_message(room_id, message_id, content, editor_id, mentions_added, room_mention_added)^
-- The edited message plus its message.edited log entry (event_* columns), or nothing when
-- it does not exist or is deleted. Keeps the current version in message_revisions
-- (revision = edit_count + 1, written when the message was created or last edited),
-- replaces the content, bumps the room's last_event_seq and appends the entry (the message
-- as a normal read returns it, plus mentions_added and room_mention_added: whom this edit
-- newly mentions, from replace_mentions, so their streams can tell them). Run after
-- lock_message (which holds the room lock).
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
        m.reply_to_id,
        m.thread_root_id,
        m.thread_seq,
        m.shown_in_room,
        m.mentioned_ids,
        m.mentions_room
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
            'reply_to', quoted_preview(e.room_id, e.reply_to_id),
            'thread_root_id', e.thread_root_id,
            'thread_seq', e.thread_seq,
            'shown_in_room', e.shown_in_room,
            'mentions', e.mentioned_ids,
            'mentions_room', e.mentions_room,
            'mentions_added', coalesce(:mentions_added::uuid[], '{}'),
            'room_mention_added', coalesce(:room_mention_added::boolean, FALSE)
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
    e.thread_root_id,
    e.thread_seq,
    e.shown_in_room,
    e.mentioned_ids,
    e.mentions_room,
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
-- nothing when it does not exist or was already deleted. The row and its seq stay; its
-- mention rows go (so unread-mention counts and inboxes drop it), and a thread reply
-- leaves its thread's reply_count (the payload then carries thread_root_id and the
-- thread's new summary). Run after lock_message (which holds the room lock).
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
        m.deleted_by,
        m.thread_root_id,
        m.thread_seq,
        m.shown_in_room,
        m.mentions_room
),

-- Not read below: PostgreSQL runs a data-modifying WITH whether or not it is read.
unmentioned AS (
    DELETE FROM message_mentions AS mm
    USING deleted AS d
    WHERE mm.room_id = d.room_id AND mm.message_id = d.id
    RETURNING mm.user_id
),

thread_shrunk AS (
    UPDATE threads AS t
    SET reply_count = t.reply_count - 1
    FROM deleted AS d
    WHERE t.room_id = d.room_id AND t.root_id = d.thread_root_id
    RETURNING t.reply_count, t.last_thread_seq, t.last_reply_at, t.participant_ids
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
            'deleted_by', d.deleted_by,
            'thread_root_id', d.thread_root_id,
            'thread', (
                SELECT
                    jsonb_build_object(
                        'reply_count', ts.reply_count,
                        'last_thread_seq', ts.last_thread_seq,
                        'last_reply_at', ts.last_reply_at,
                        'participant_ids', ts.participant_ids
                    )
                FROM thread_shrunk AS ts
            )
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
    d.thread_root_id,
    d.thread_seq,
    d.shown_in_room,
    d.mentions_room,
    '{}'::uuid[] AS mentioned_ids,
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
