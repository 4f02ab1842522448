-- Sending a message: one statement (chatstore.repositories.sending) that locks the room,
-- checks membership, the idempotency keys, the quoted message, the thread root and the
-- right to mention the room, takes the next seq (and the next thread_seq), inserts, moves
-- the sender's read markers, records mentions and thread follows, and appends the
-- change-log entry.
--
-- The message returned is masked as every read in messages.sql masks one: a soft-deleted
-- message's content, attachment and quote never leave the database.
--
-- aiosql reads a query's name line as one line, and send_message's declares eight
-- parameters and more: longer than the line limit, so that rule is off for this file.
-- noqa: disable=LT05

-- name: send_message(message_id, room_id, sender_id, kind, content, attachment, client_id, reply_to_id, thread_root_id, also_to_room, mention_ids, mentions_room)^
-- Sends a message in one statement, and always returns one row saying what happened:
-- room_found and is_member; then either the new message with its message.created log
-- entry (event_* columns), or the message this send already stored (a retry: the same
-- message_id, or the same client_id from this sender in this room) with same_payload
-- telling whether it carried the same kind, original content, attachment and quoted
-- message; or neither, when the room was deleted while this statement waited for it, or
-- when reply_to_id names no message of this room that is not deleted (reply_ok FALSE),
-- when thread_root_id names no such message that is not itself a thread reply (thread_ok
-- FALSE), or when mentions_room comes from a plain member of a room that is not direct
-- (room_mention_ok FALSE): nothing written then.
-- A thread reply takes the thread's next thread_seq from its threads row (created at the
-- first reply), under the same room lock. The replier follows the thread, read up to their
-- reply; at the first reply the root's sender follows too, with the reply unread; and a
-- mentioned member follows from the reply that mentions them. Existing follows keep their
-- markers (the replier's only moves forward). Mentions: the members among mention_ids,
-- other than the sender, in the order given; anyone else is dropped, never refused. Each
-- gets a message_mentions row; mentions_room is a flag on the message, never a row per
-- member. So a reply costs O(1 + mentioned) writes, whatever the room's or thread's size.
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
        ru.user_id IS NOT NULL AS is_member,
        -- The right to mention the whole room: owners and admins, or either user of a
        -- direct room (as of this statement's snapshot).
        (r.kind = 'direct' OR ru.role IN ('owner', 'admin')) AS may_mention_room
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
            AND m.thread_root_id IS NOT DISTINCT FROM :thread_root_id::uuid
            AND m.mentions_room = :mentions_room::boolean,
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

-- The root a thread reply replies under: a message of this room, not deleted and not a
-- thread reply itself (threads do not nest).
root AS (
    SELECT
        q.id,
        q.sender_id
    FROM messages AS q
    WHERE
        q.room_id = :room_id
        AND q.id = :thread_root_id::uuid
        AND q.deleted_at IS NULL
        AND q.thread_root_id IS NULL
),

checks AS (
    SELECT
        :reply_to_id::uuid IS NULL OR EXISTS (SELECT 1 FROM quoted) AS reply_ok,
        :thread_root_id::uuid IS NULL OR EXISTS (SELECT 1 FROM root) AS thread_ok,
        NOT :mentions_room::boolean
        OR coalesce((SELECT t.may_mention_room FROM target AS t), FALSE) AS room_mention_ok
),

-- The members a message mentions: those of mention_ids who are members now, but not the
-- sender (their own message is read already), in the order given (a repeated id counts
-- once, at its first place). One room_users_pkey probe per id: driven from the ids, so a
-- generic plan cannot turn it into a scan of the room's members (it did, as
-- `user_id = any(...)` on room_users: O(room size) per send).
mentioned AS (
    SELECT
        ru.user_id,
        min(wanted.place) AS place
    FROM unnest(:mention_ids::uuid[]) WITH ORDINALITY AS wanted (user_id, place)
    INNER JOIN room_users AS ru
        ON ru.room_id = :room_id AND wanted.user_id = ru.user_id
    WHERE ru.user_id <> :sender_id
    GROUP BY ru.user_id
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
        AND c.thread_ok
        AND c.room_mention_ok
        AND NOT EXISTS (SELECT 1 FROM earlier)
    RETURNING r.id, r.last_seq, r.last_event_seq
),

-- A thread reply's thread_seq: the thread's next, from its row (made at the first reply).
thread_bumped AS (
    INSERT INTO threads AS t (
        root_id, room_id, last_thread_seq, reply_count, last_reply_at, participant_ids
    )
    SELECT
        rt.id AS root_id,
        b.id AS room_id,
        1 AS last_thread_seq,
        1 AS reply_count,
        now() AS last_reply_at,
        ARRAY[:sender_id::uuid] AS participant_ids
    FROM bumped AS b
    CROSS JOIN root AS rt
    ON CONFLICT (room_id, root_id) DO UPDATE
        SET
            last_thread_seq = t.last_thread_seq + 1,
            reply_count = t.reply_count + 1,
            last_reply_at = now(),
            -- The replier first, then the earlier ones, cut to three (trim_array drops
            -- from the end; a slice's colon would read as a parameter here).
            participant_ids = trim_array(
                ARRAY[:sender_id::uuid] || array_remove(t.participant_ids, :sender_id::uuid),
                greatest(cardinality(array_remove(t.participant_ids, :sender_id::uuid)) - 2, 0)
            ),
            last_activity_at = now()
    RETURNING
        t.root_id,
        t.last_thread_seq,
        t.reply_count,
        t.last_reply_at,
        t.participant_ids
),

inserted AS (
    INSERT INTO messages (
        id,
        room_id,
        seq,
        sender_id,
        kind,
        content,
        attachment,
        client_id,
        reply_to_id,
        thread_root_id,
        thread_seq,
        shown_in_room,
        mentioned_ids,
        mentions_room
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
        :reply_to_id::uuid AS reply_to_id,
        tb.root_id AS thread_root_id,
        tb.last_thread_seq AS thread_seq,
        tb.root_id IS NULL OR :also_to_room::boolean AS shown_in_room,
        coalesce(
            (SELECT array_agg(mn.user_id ORDER BY mn.place) FROM mentioned AS mn), '{}'
        ) AS mentioned_ids,
        :mentions_room::boolean AS mentions_room
    FROM bumped AS b
    LEFT JOIN thread_bumped AS tb ON TRUE
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

mention_rows AS (
    INSERT INTO message_mentions (
        message_id, user_id, room_id, seq, thread_root_id, thread_seq, created_at
    )
    SELECT
        i.id AS message_id,
        mn.user_id,
        i.room_id,
        i.seq,
        i.thread_root_id,
        i.thread_seq,
        i.created_at
    FROM inserted AS i
    CROSS JOIN mentioned AS mn
    RETURNING user_id
),

-- Who follows the thread after this reply, each once (a user may be the replier, the
-- root's sender and mentioned at once: the highest marker wins), members only.
follows AS (
    INSERT INTO thread_follows AS f (root_id, user_id, room_id, last_read_thread_seq)
    SELECT
        i.thread_root_id AS root_id,
        c.user_id,
        i.room_id,
        max(c.marker) AS last_read_thread_seq
    FROM inserted AS i
    CROSS JOIN
        LATERAL (
            SELECT
                i.sender_id AS user_id,
                i.thread_seq AS marker
            UNION ALL
            SELECT
                rt.sender_id AS user_id,
                0 AS marker
            FROM root AS rt
            WHERE i.thread_seq = 1
            UNION ALL
            SELECT
                mn.user_id,
                i.thread_seq - 1 AS marker
            FROM mentioned AS mn
        ) AS c
    WHERE
        i.thread_root_id IS NOT NULL
        AND EXISTS (
            SELECT 1
            FROM room_users AS ru
            WHERE ru.room_id = i.room_id AND ru.user_id = c.user_id
        )
    GROUP BY i.thread_root_id, c.user_id, i.room_id
    ON CONFLICT (room_id, root_id, user_id) DO UPDATE
        SET last_read_thread_seq = greatest(
            f.last_read_thread_seq,
            CASE
                WHEN excluded.user_id = :sender_id::uuid THEN excluded.last_read_thread_seq
                ELSE 0
            END
        )
    -- xmax is 0 on a row this statement inserted, not on one it updated.
    RETURNING f.user_id, f.xmax = 0 AS is_new
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
            'reply_to', quoted_preview(i.room_id, i.reply_to_id),
            'thread_root_id', i.thread_root_id,
            'thread_seq', i.thread_seq,
            'shown_in_room', i.shown_in_room,
            'mentions', i.mentioned_ids,
            'mentions_room', i.mentions_room,
            -- A reply carries its thread's new summary and who started following.
            'thread', CASE
                WHEN tb.root_id IS NOT NULL
                    THEN
                        jsonb_build_object(
                            'reply_count', tb.reply_count,
                            'last_thread_seq', tb.last_thread_seq,
                            'last_reply_at', tb.last_reply_at,
                            'participant_ids', tb.participant_ids
                        )
            END,
            'new_followers', (
                SELECT coalesce(jsonb_agg(fl.user_id ORDER BY fl.user_id), '[]')
                FROM follows AS fl
                WHERE fl.is_new
            )
        ) AS payload
    FROM inserted AS i
    CROSS JOIN bumped AS b
    LEFT JOIN thread_bumped AS tb ON TRUE
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    e.same_payload,
    c.reply_ok,
    c.thread_ok,
    c.room_mention_ok,
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
