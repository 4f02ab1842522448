-- Whom a connected client follows for presence, and when users were last seen.

-- name: co_members(user_id, limit)
-- Users who share at least one room with the user (never the user), at most limit of them,
-- those who joined a shared room most recently first (the likeliest to be talking).
-- may scan room_users: for a user in most rooms the co-members are most of the table,
-- and reading it whole is then cheaper than one index walk per room; runs once per connect.
SELECT other.user_id
FROM room_users AS mine
INNER JOIN room_users AS other ON mine.room_id = other.room_id
WHERE
    mine.user_id = :user_id
    AND other.user_id <> :user_id
GROUP BY other.user_id
ORDER BY max(other.joined_at) DESC, other.user_id
LIMIT :limit;

-- name: last_seen_many(user_ids)
-- user_id and last_seen_at (NULL: never seen) of each existing user among user_ids, the
-- moment their last device went offline or online (users.set_online stamps it); an
-- unknown id has no row. By primary key, one probe per id.
SELECT
    u.id AS user_id,
    u.last_seen_at
FROM users AS u
WHERE u.id = any(:user_ids::uuid[]);
