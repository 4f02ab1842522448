-- Read-only overviews of what a database holds, for the demo and for operators.

-- name: database_summary()^
-- One row: how many users, rooms, memberships, messages (and of those, edited and deleted),
-- revisions and read receipts the database holds.
-- may scan users, rooms, room_users, messages, message_revisions, message_read_receipts:
-- exact counts of every row, for the demo and operators; PostgreSQL can only count a table
-- by reading it (use pg_class.reltuples where an estimate will do).
SELECT
    (SELECT count(*) FROM users) AS users_count,
    (SELECT count(*) FROM rooms) AS rooms_count,
    (SELECT count(*) FROM room_users) AS memberships_count,
    (SELECT count(*) FROM messages) AS messages_count,
    (
        SELECT count(*) FROM messages
        WHERE edit_count > 0
    ) AS edited_messages_count,
    (
        SELECT count(*) FROM messages
        WHERE deleted_at IS NOT NULL
    ) AS deleted_messages_count,
    (SELECT count(*) FROM message_revisions) AS revisions_count,
    (SELECT count(*) FROM message_read_receipts) AS read_receipts_count;

-- name: room_overview()
-- Every room with its kind, display name (direct rooms: the two usernames), member count,
-- newest seq and time of the last message, newest first.
-- may scan rooms: it lists every room, for the demo and operators (members and usernames
-- are looked up per room through their indexes).
SELECT
    r.id,
    r.kind,
    r.last_seq,
    r.last_message_at,
    coalesce(
        r.name,
        (
            SELECT string_agg(u.username, ' & ' ORDER BY u.username)
            FROM users AS u
            WHERE u.id IN (r.direct_user_low, r.direct_user_high)
        )
    ) AS display_name,
    (
        SELECT count(*) FROM room_users AS ru
        WHERE ru.room_id = r.id
    ) AS members
FROM rooms AS r
ORDER BY r.last_message_at DESC NULLS LAST, r.created_at DESC;
