-- What the workloads need to know about the loaded dataset (bench/fixtures.py): which rooms
-- and users to aim at, and facts about the server for the results file.

-- name: server_facts()^
-- One row: the server's version and the settings that decide what a commit costs.
SELECT
    current_setting('server_version') AS server_version,  -- noqa: RF04
    current_setting('fsync') AS fsync,  -- noqa: RF04
    current_setting('synchronous_commit') AS synchronous_commit,
    current_setting('full_page_writes') AS full_page_writes,
    current_setting('shared_buffers') AS shared_buffers,
    current_setting('max_connections') AS max_connections;

-- name: hot_room()^
-- The room with the most messages (the dataset's hot room, also its biggest), its last seq
-- and member count.
SELECT
    r.id,
    r.last_seq,
    (
        SELECT count(*) FROM room_users AS ru
        WHERE ru.room_id = r.id
    ) AS members
FROM rooms AS r
ORDER BY r.last_seq DESC, r.id ASC
LIMIT 1;

-- name: direct_room()^
-- The busiest direct (2-member) room, its last seq and its two users.
SELECT
    r.id,
    r.last_seq,
    r.direct_user_low,
    r.direct_user_high
FROM rooms AS r
WHERE r.kind = 'direct'
ORDER BY r.last_seq DESC, r.id ASC
LIMIT 1;

-- name: room_last_seq(room_id)^
-- The room's newest seq now (sends move it during a run).
SELECT r.last_seq
FROM rooms AS r
WHERE r.id = :room_id;

-- name: room_members(room_id, limit)
-- Up to limit members of the room, in user id order.
SELECT ru.user_id
FROM room_users AS ru
WHERE ru.room_id = :room_id
ORDER BY ru.user_id ASC
LIMIT :limit;

-- name: users_in_rooms(room_count, limit)
-- Up to limit users who belong to exactly room_count rooms, in user id order.
SELECT ru.user_id
FROM room_users AS ru
GROUP BY ru.user_id
HAVING count(*) = :room_count
ORDER BY ru.user_id ASC
LIMIT :limit;

-- name: some_users(limit)
-- Up to limit users (id and username), in id order.
SELECT
    u.id,
    u.username
FROM users AS u
ORDER BY u.id ASC
LIMIT :limit;

-- name: newest_messages(room_id, limit)
-- The ids of the room's newest messages, oldest of them first.
SELECT m.id
FROM (
    SELECT
        msg.id,
        msg.seq
    FROM messages AS msg
    WHERE msg.room_id = :room_id
    ORDER BY msg.seq DESC
    LIMIT :limit
) AS m
ORDER BY m.seq ASC;

-- The run's threads, reactions and quotes (bench/fixtures.py, prepare_conversations): the
-- dataset has none, so the run database gets them before anything is measured, in bulk.
-- In the page from low_seq to high_seq of a room (50 messages: five blocks of ten), each
-- block's first message is a thread's root and its next three reply in that thread
-- (thread_seq 1 to 3; the third also shown in the room), its sixth and eighth quote the
-- message two before them, and every other message has reactions.

-- name: thread_the_page(room_id, low_seq, high_seq)^
-- Makes the page's replies and quotes, and each thread's row as sending would leave it:
-- last_thread_seq 3, reply_count the replies not deleted, the latest reply's time and up
-- to three repliers, the latest first. One row: the number of threads made.
WITH page AS (
    SELECT
        msg.id,
        msg.seq,
        mod(msg.seq - :low_seq, 10) AS place
    FROM messages AS msg
    WHERE
        msg.room_id = :room_id
        AND msg.seq BETWEEN :low_seq AND :high_seq
),

changed AS (
    UPDATE messages AS m
    SET
        thread_root_id = CASE WHEN p.place BETWEEN 1 AND 3 THEN root.id END,
        thread_seq = CASE WHEN p.place BETWEEN 1 AND 3 THEN p.place END,
        shown_in_room = p.place NOT IN (1, 2),
        reply_to_id = CASE WHEN p.place IN (5, 7) THEN quoted.id END
    FROM page AS p
    INNER JOIN messages AS root
        ON root.room_id = :room_id AND root.seq = p.seq - p.place
    INNER JOIN messages AS quoted
        ON quoted.room_id = :room_id AND quoted.seq = p.seq - 2
    WHERE
        m.room_id = :room_id
        AND m.id = p.id
        AND p.place IN (1, 2, 3, 5, 7)
    RETURNING
        m.room_id, m.thread_root_id, m.thread_seq, m.sender_id, m.created_at, m.deleted_at
),

made AS (
    INSERT INTO threads (
        room_id, root_id, last_thread_seq, reply_count, last_reply_at, participant_ids,
        last_activity_at
    )
    SELECT
        c.room_id,
        c.thread_root_id AS root_id,
        max(c.thread_seq) AS last_thread_seq,
        count(*) FILTER (WHERE c.deleted_at IS NULL) AS reply_count,
        max(c.created_at) AS last_reply_at,
        (
            SELECT array_agg(s.sender_id ORDER BY s.latest DESC)
            FROM (
                SELECT
                    mine.sender_id,
                    max(mine.thread_seq) AS latest
                FROM changed AS mine
                WHERE mine.thread_root_id = c.thread_root_id
                GROUP BY mine.sender_id
            ) AS s
        ) AS participant_ids,
        max(c.created_at) AS last_activity_at
    FROM changed AS c
    WHERE c.thread_root_id IS NOT NULL
    GROUP BY c.room_id, c.thread_root_id
    RETURNING root_id
)

SELECT count(*) AS threads
FROM made;

-- name: react_to_page(room_id, low_seq, high_seq)^
-- Reactions on every other message of the page that is not deleted: '+1' from the room's
-- first eight members (in user id order, so from the benchmark's readers), ':tada:' from
-- three, ':eyes:' from one, a minute apart in that order. One row: the number of reactions.
WITH reaction_keys (reaction, reactors, place) AS (
    VALUES ('+1', 8, 1), (':tada:', 3, 2), (':eyes:', 1, 3)
),

added AS (
    INSERT INTO message_reactions (room_id, message_id, user_id, reaction, created_at)
    SELECT
        m.room_id,
        m.id AS message_id,
        ru.user_id,
        k.reaction,
        m.created_at + k.place * interval '1 minute' AS created_at
    FROM messages AS m
    CROSS JOIN reaction_keys AS k
    CROSS JOIN
        LATERAL (
            SELECT member.user_id
            FROM room_users AS member
            WHERE member.room_id = m.room_id
            ORDER BY member.user_id ASC
            LIMIT k.reactors
        ) AS ru
    WHERE
        m.room_id = :room_id
        AND m.seq BETWEEN :low_seq AND :high_seq
        AND mod(m.seq - :low_seq, 2) = 0
        AND m.deleted_at IS NULL
    RETURNING message_id
)

SELECT count(*) AS reactions
FROM added;

-- name: follow_thread(room_id, top_seq)^
-- A thread every member of the room follows, rooted at the room's newest message up to
-- top_seq that is neither deleted nor a thread reply: its threads row (no replies yet) and
-- one thread_follows row per member, from room_users in one statement. The root and the
-- number of followers.
WITH root AS (
    SELECT
        m.room_id,
        m.id
    FROM messages AS m
    WHERE
        m.room_id = :room_id
        AND m.seq <= :top_seq
        AND m.deleted_at IS NULL
        AND m.thread_root_id IS NULL
    ORDER BY m.seq DESC
    LIMIT 1
),

made AS (
    INSERT INTO threads (room_id, root_id)
    SELECT
        rt.room_id,
        rt.id AS root_id
    FROM root AS rt
    RETURNING room_id, root_id
),

followed AS (
    INSERT INTO thread_follows (room_id, root_id, user_id)
    SELECT
        t.room_id,
        t.root_id,
        ru.user_id
    FROM made AS t
    INNER JOIN room_users AS ru ON t.room_id = ru.room_id
    RETURNING user_id
)

SELECT
    (SELECT t.root_id FROM made AS t) AS root_id,
    (SELECT count(*) FROM followed) AS followers;

-- name: analyze_conversations()#
-- Statistics for the tables the statements above filled (empty in the dataset).
ANALYZE threads, thread_follows, message_reactions;
