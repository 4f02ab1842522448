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
-- The busiest direct (2-member) room and its two users.
SELECT
    r.id,
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
