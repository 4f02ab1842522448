-- Unread counters: what Redis needs to rebuild a room's counter state after losing it.
-- (A user's read markers are rebuilt from members.unread_counts.)

-- name: room_states(room_ids)
-- One row per existing room among room_ids: its last seq and the ascending seqs of its
-- soft-deleted messages after the lowest read marker of any member (older deletions can
-- no longer be unread for anyone, which bounds the list); an empty array when none.
SELECT
    r.id AS room_id,
    r.last_seq,
    coalesce(
        (
            SELECT array_agg(m.seq ORDER BY m.seq)
            FROM messages AS m
            WHERE
                m.room_id = r.id
                AND m.deleted_at IS NOT NULL
                AND m.seq > (
                    SELECT coalesce(min(ru.last_read_seq), r.last_seq)
                    FROM room_users AS ru
                    WHERE ru.room_id = r.id
                )
        ),
        '{}'::bigint[]
    ) AS deleted_seqs
FROM rooms AS r
WHERE r.id = any(:room_ids::uuid[])
ORDER BY r.id ASC;
