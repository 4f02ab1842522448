-- Brute-force counts for the property tests of thread and mention counts
-- (tests/test_count_properties.py): each count written the slow, obvious way, straight
-- from the definition, over every row, so it can be compared with what chatstore answers.

-- name: brute_room_mentions(room_id)
-- Per member of the room: the messages after their read marker, not deleted and not their
-- own, that mention them by name or mention the whole room.
SELECT
    ru.user_id,
    count(m.id) AS unread_mentions
FROM room_users AS ru
LEFT JOIN messages AS m
    ON
        ru.room_id = m.room_id
        AND ru.last_read_seq < m.seq
        AND m.deleted_at IS NULL
        AND ru.user_id IS DISTINCT FROM m.sender_id
        AND (ru.user_id = any(m.mentioned_ids) OR m.mentions_room)
WHERE ru.room_id = :room_id
GROUP BY ru.user_id;

-- name: brute_thread_counts(room_id)
-- Per follow of a thread of the room: the replies after the follower's marker that are
-- not deleted and not their own, and those of them that mention the follower.
SELECT
    f.root_id,
    f.user_id,
    count(m.id) AS unread_replies,
    count(m.id) FILTER (
        WHERE f.user_id = any(m.mentioned_ids) OR m.mentions_room
    ) AS unread_mentions
FROM thread_follows AS f
LEFT JOIN messages AS m
    ON
        f.room_id = m.room_id
        AND f.root_id = m.thread_root_id
        AND f.last_read_thread_seq < m.thread_seq
        AND m.deleted_at IS NULL
        AND f.user_id IS DISTINCT FROM m.sender_id
WHERE f.room_id = :room_id
GROUP BY f.root_id, f.user_id;

-- name: brute_reply_counts(room_id)
-- Per thread of the room: its replies that are not deleted.
SELECT
    t.root_id,
    count(m.id) AS reply_count
FROM threads AS t
LEFT JOIN messages AS m
    ON
        t.room_id = m.room_id
        AND t.root_id = m.thread_root_id
        AND m.deleted_at IS NULL
WHERE t.room_id = :room_id
GROUP BY t.root_id;
