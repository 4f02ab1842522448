-- Read receipts (who read which message, and when) and the read markers they move.

-- name: mark_read(message_id, user_id)^
-- Records that the user read the message (the first read time is kept) and moves their
-- read marker forward to it, in one statement; returns the message's room_id and seq,
-- whether the user is a member (nothing is written otherwise) and the receipt's read_at.
-- Nothing when the message does not exist. read_at is NULL only when a concurrent call
-- recorded the receipt after this statement's snapshot was taken: read it with get_receipt.
-- The marker never moves backward: a concurrent update is re-checked on the newest row.
WITH target AS (
    SELECT
        m.room_id,
        m.seq,
        ru.user_id IS NOT NULL AS is_member
    FROM messages AS m
    LEFT JOIN room_users AS ru
        ON m.room_id = ru.room_id AND ru.user_id = :user_id
    WHERE m.id = :message_id
),

inserted AS (
    INSERT INTO message_read_receipts (room_id, message_id, user_id)
    SELECT
        t.room_id,
        :message_id,
        :user_id
    FROM target AS t
    WHERE t.is_member
    ON CONFLICT (room_id, message_id, user_id) DO NOTHING
    RETURNING read_at
),

marker AS (
    UPDATE room_users AS ru
    SET
        last_read_seq = greatest(ru.last_read_seq, t.seq),
        last_read_at = now()
    FROM target AS t
    WHERE
        t.is_member
        AND ru.room_id = t.room_id
        AND ru.user_id = :user_id
        AND ru.last_read_seq < t.seq
    RETURNING ru.user_id
)

SELECT
    t.room_id,
    t.seq,
    t.is_member,
    coalesce(i.read_at, earlier.read_at) AS read_at
FROM target AS t
LEFT JOIN inserted AS i ON TRUE
LEFT JOIN message_read_receipts AS earlier
    ON
        t.room_id = earlier.room_id
        AND earlier.message_id = :message_id
        AND earlier.user_id = :user_id;

-- name: get_receipt(room_id, message_id, user_id)^
-- The user's receipt for a message, or nothing.
SELECT
    room_id,
    message_id,
    user_id,
    read_at
FROM message_read_receipts
WHERE room_id = :room_id AND message_id = :message_id AND user_id = :user_id;

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
