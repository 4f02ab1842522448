-- A thread for the plan checks (tests/test_query_plans.py), written behind chatstore's
-- back with bulk statements, as the rest of that dataset is.

-- name: bulk_load_thread(room_id, root_seq, replies)!
-- The `replies` messages after root_seq in the room become, in order, the replies of the
-- message at root_seq (one in ten also shown in the room), with the threads row that
-- counts them; the mention rows of those messages learn their thread; and every member of
-- the room follows the thread, each with a marker somewhere in it.
WITH root AS (
    SELECT
        m.id,
        m.room_id
    FROM messages AS m
    WHERE m.room_id = :room_id AND m.seq = :root_seq
),

replied AS (
    UPDATE messages AS m
    SET
        thread_root_id = r.id,
        thread_seq = m.seq - :root_seq,
        shown_in_room = (mod(m.seq, 10) = 0)
    FROM root AS r
    WHERE
        m.room_id = r.room_id
        AND m.seq > :root_seq
        AND m.seq <= :root_seq + :replies
    RETURNING m.room_id, m.id, m.thread_root_id, m.thread_seq
),

mentioned AS (
    UPDATE message_mentions AS mm
    SET
        thread_root_id = rp.thread_root_id,
        thread_seq = rp.thread_seq
    FROM replied AS rp
    WHERE mm.room_id = rp.room_id AND mm.message_id = rp.id
),

thread AS (
    INSERT INTO threads (room_id, root_id, last_thread_seq, reply_count, last_reply_at)
    SELECT
        r.room_id,
        r.id,
        :replies AS last_thread_seq,
        :replies AS reply_count,
        now() AS last_reply_at
    FROM root AS r
    RETURNING room_id, root_id
)

INSERT INTO thread_follows (room_id, root_id, user_id, last_read_thread_seq)
SELECT
    t.room_id,
    t.root_id,
    ru.user_id,
    mod(abs(hashtext(ru.user_id::text)), :replies) AS last_read_thread_seq
FROM thread AS t
INNER JOIN room_users AS ru ON t.room_id = ru.room_id;

-- name: bulk_follow_threads(room_id, root_seqs)!
-- The messages of the room at root_seqs become threads without replies yet (their threads
-- rows), and every member of the room follows each: with the thread above, thread_follows
-- holds several rows per member, as a user following a few threads does, and is large.
WITH roots AS (
    INSERT INTO threads (room_id, root_id, last_thread_seq, reply_count)
    SELECT
        m.room_id,
        m.id,
        0 AS last_thread_seq,
        0 AS reply_count
    FROM messages AS m
    WHERE m.room_id = :room_id AND m.seq = any(:root_seqs::bigint[])
    RETURNING room_id, root_id
)

INSERT INTO thread_follows (room_id, root_id, user_id, last_read_thread_seq)
SELECT
    t.room_id,
    t.root_id,
    ru.user_id,
    0 AS last_read_thread_seq
FROM roots AS t
INNER JOIN room_users AS ru ON t.room_id = ru.room_id;

-- name: analyze_threads()!
-- Fresh statistics for the thread rows written above.
ANALYZE messages, threads, thread_follows, message_mentions;
