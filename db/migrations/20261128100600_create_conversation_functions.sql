-- migrate:up
-- The rules the reads of threads and mentions share, one SQL function each, so every query
-- that needs one (history pages, the room list, unread counts, followed threads, the
-- markers' events) counts the same way. Each is a lookup on an index that exists for it,
-- and each is STABLE and PARALLEL SAFE. No indexes here.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A message's reactions as a page shows them: one object per key (message_id, reaction, count,
-- reacted_by_me for the reader), keys in the order they were first used; [] when it has
-- none. One range of message_reactions' primary key, the reactions counted.
CREATE FUNCTION reaction_summary(
    summary_room_id uuid, summary_message_id uuid, reader_id uuid
) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_agg(
        jsonb_build_object(
            'message_id', summary_message_id,
            'reaction', k.reaction,
            'count', k.reaction_count,
            'reacted_by_me', k.mine
        )
        ORDER BY k.first_at, k.reaction
    ), '[]')
    FROM (
        SELECT
            mr.reaction,
            count(*) AS reaction_count,
            coalesce(bool_or(mr.user_id = reader_id), FALSE) AS mine,
            min(mr.created_at) AS first_at
        FROM message_reactions AS mr
        WHERE mr.room_id = summary_room_id AND mr.message_id = summary_message_id
        GROUP BY mr.reaction
    ) AS k
$$;

COMMENT ON FUNCTION reaction_summary(uuid, uuid, uuid) IS
'A message''s reactions as jsonb [{message_id, reaction, count, reacted_by_me}], first used first; [] for none.';

-- A thread root's summary (jsonb: reply_count, last_thread_seq, last_reply_at,
-- participant_ids), or NULL when nobody replied or followed yet. One primary-key lookup.
CREATE FUNCTION thread_summary(summary_room_id uuid, summary_root_id uuid) RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'reply_count', t.reply_count,
        'last_thread_seq', t.last_thread_seq,
        'last_reply_at', t.last_reply_at,
        'participant_ids', t.participant_ids
    )
    FROM threads AS t
    WHERE t.room_id = summary_room_id AND t.root_id = summary_root_id
$$;

COMMENT ON FUNCTION thread_summary(uuid, uuid) IS
'The summary of the thread rooted at a message (jsonb), or NULL when it has none.';

-- A member's unread mentions in a room: the messages after their read marker that mention
-- them (message_mentions_room_idx, index-only) or the whole room and not them by name
-- (messages_room_mentions_idx), so a message mentioning both counts once. Deleted
-- messages count for neither: deleting removes their mention rows, and the @room index
-- leaves them out. The member's own messages never count: sending moves their marker.
CREATE FUNCTION unread_mentions(
    counted_room_id uuid, counted_user_id uuid, after_seq bigint
) RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT (
        SELECT count(*)
        FROM message_mentions AS mm
        WHERE
            mm.user_id = counted_user_id
            AND mm.room_id = counted_room_id
            AND mm.seq > after_seq
    ) + (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.room_id = counted_room_id
            AND m.seq > after_seq
            AND m.mentions_room
            AND m.deleted_at IS NULL
            AND NOT counted_user_id = any(m.mentioned_ids)
    )
$$;

COMMENT ON FUNCTION unread_mentions(uuid, uuid, bigint) IS
'Unread mentions of a member in a room after a read marker (by name or @room), deleted messages left out.';

-- A follower's unread replies in a thread: the replies after their marker less the deleted
-- ones (messages_thread_deleted_idx), as room unread counts are taken.
CREATE FUNCTION unread_replies(
    counted_root_id uuid, last_thread_seq bigint, after_thread_seq bigint
) RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT greatest(last_thread_seq - after_thread_seq, 0) - (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.thread_root_id = counted_root_id
            AND m.thread_seq > after_thread_seq
            AND m.deleted_at IS NOT NULL
    )
$$;

COMMENT ON FUNCTION unread_replies(uuid, bigint, bigint) IS
'Unread replies of a thread after a follower''s marker, deleted replies left out.';

-- A follower's unread mentions in a thread: the replies after their thread marker that
-- mention them (message_mentions_thread_idx) or the whole room and not them by name
-- (messages_room_mentions_idx from the root's seq: replies come after their root).
CREATE FUNCTION unread_thread_mentions(
    counted_room_id uuid,
    counted_root_id uuid,
    root_seq bigint,
    counted_user_id uuid,
    after_thread_seq bigint
) RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT (
        SELECT count(*)
        FROM message_mentions AS mm
        WHERE
            mm.user_id = counted_user_id
            AND mm.thread_root_id = counted_root_id
            AND mm.thread_seq > after_thread_seq
    ) + (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.room_id = counted_room_id
            AND m.seq > root_seq
            AND m.mentions_room
            AND m.deleted_at IS NULL
            AND m.thread_root_id = counted_root_id
            AND m.thread_seq > after_thread_seq
            AND NOT counted_user_id = any(m.mentioned_ids)
    )
$$;

COMMENT ON FUNCTION unread_thread_mentions(uuid, uuid, bigint, uuid, bigint) IS
'Unread mentions of a follower in a thread after their thread marker (by name or @room).';

-- migrate:down
DROP FUNCTION unread_thread_mentions(uuid, uuid, bigint, uuid, bigint);
DROP FUNCTION unread_replies(uuid, bigint, bigint);
DROP FUNCTION unread_mentions(uuid, uuid, bigint);
DROP FUNCTION thread_summary(uuid, uuid);
DROP FUNCTION reaction_summary(uuid, uuid, uuid);
