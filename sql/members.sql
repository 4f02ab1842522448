-- Room membership: roles and read markers.

-- name: get_member(room_id, user_id)^
-- The membership row of a user in a room, or nothing when they are not a member.
SELECT
    room_id,
    user_id,
    role,
    joined_at,
    last_read_seq,
    last_read_at
FROM room_users
WHERE room_id = :room_id AND user_id = :user_id;

-- name: unread_counts(user_id)
-- One row per room the user belongs to: the room's last seq, the user's read marker and
-- the unread count (messages after the marker, less the soft-deleted ones), most recently
-- active room first. A member's own messages are never unread because sending moves the
-- sender's marker to the new message.
SELECT
    ru.room_id,
    r.last_seq,
    ru.last_read_seq,
    r.last_seq - ru.last_read_seq - (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.room_id = ru.room_id
            AND m.seq > ru.last_read_seq
            AND m.deleted_at IS NOT NULL
    ) AS unread_count
FROM room_users AS ru
INNER JOIN rooms AS r ON ru.room_id = r.id
WHERE ru.user_id = :user_id
ORDER BY r.last_message_at DESC NULLS LAST, ru.room_id ASC;
