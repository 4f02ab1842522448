-- Read receipts (who read which message, and when) and the read markers they move.

-- name: read_target(message_id, user_id)^
-- The room and seq of a message and whether the user is a member of that room; nothing
-- when the message does not exist.
SELECT
    m.room_id,
    m.seq,
    ru.user_id IS NOT NULL AS is_member
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
WHERE m.id = :message_id;

-- name: insert_receipt(room_id, message_id, user_id)^
-- Records that the user read the message and returns the receipt; nothing when it was
-- already recorded (the first read time is kept).
INSERT INTO message_read_receipts (room_id, message_id, user_id)
VALUES (:room_id, :message_id, :user_id)
ON CONFLICT (room_id, message_id, user_id) DO NOTHING
RETURNING room_id, message_id, user_id, read_at;

-- name: get_receipt(room_id, message_id, user_id)^
-- The user's receipt for a message, or nothing.
SELECT
    room_id,
    message_id,
    user_id,
    read_at
FROM message_read_receipts
WHERE room_id = :room_id AND message_id = :message_id AND user_id = :user_id;

-- name: advance_read_marker(room_id, user_id, seq)!
-- Moves the member's read marker forward to seq; 0 rows when it was already there or
-- beyond. A concurrent call re-checks the condition on the newest row version, so the
-- marker can never move backward.
UPDATE room_users
SET
    last_read_seq = greatest(last_read_seq, :seq),
    last_read_at = now()
WHERE room_id = :room_id AND user_id = :user_id AND last_read_seq < :seq;

-- name: message_receipts(message_id, user_id)
-- Who read a message and when, earliest first, each row carrying whether the asking user
-- is a member. No rows: no such message. One row with a NULL user_id: a non-member, or
-- nobody has read it yet.
SELECT
    rc.room_id,
    rc.message_id,
    rc.user_id,
    rc.read_at,
    ru.user_id IS NOT NULL AS is_member
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN message_read_receipts AS rc
    ON ru.room_id = rc.room_id AND m.id = rc.message_id
WHERE m.id = :message_id
ORDER BY rc.read_at ASC, rc.user_id ASC;
