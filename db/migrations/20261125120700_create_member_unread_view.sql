-- migrate:up
-- One definition of "unread" for every query that needs it (a member's room list, unread
-- counts): the room's last seq, less the member's read marker, less the soft-deleted
-- messages after the marker. The view is inlined by the planner, so the count still runs
-- on the partial index messages_deleted_room_seq_idx. No indexes here.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE VIEW member_unread AS
SELECT
    ru.room_id,
    ru.user_id,
    ru.role,
    ru.last_read_seq,
    r.last_seq,
    r.last_message_at,
    r.last_seq - ru.last_read_seq - (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.room_id = ru.room_id
            AND m.seq > ru.last_read_seq
            AND m.deleted_at IS NOT NULL
    ) AS unread_count
FROM room_users AS ru
INNER JOIN rooms AS r ON ru.room_id = r.id;

COMMENT ON VIEW member_unread IS
'Per member and room: read marker, last seq and exact unread count (own messages never count: sending moves the sender''s marker).';

-- migrate:down
DROP VIEW member_unread;
