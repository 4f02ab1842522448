-- Bulk data for planner checks: enough rows that PostgreSQL's choice between an index and
-- a sequential scan means something. Used by tests/test_query_plans.py.

-- name: bulk_load_rooms(user_id, rooms, per_room)!
-- Creates `rooms` public rooms owned by the user, each holding `per_room` messages with
-- seqs 1..per_room (every 50th soft-deleted) and the owner's read marker halfway.
WITH new_rooms AS (
    INSERT INTO rooms (kind, name, created_by, last_seq, last_message_at)
    SELECT
        'public' AS kind,
        'bulk-' || g.n AS name,  -- noqa: RF04
        :user_id AS created_by,
        :per_room AS last_seq,
        now() AS last_message_at
    FROM generate_series(1, :rooms) AS g (n)
    RETURNING id
),

owners AS (
    INSERT INTO room_users (room_id, user_id, role, last_read_seq)
    SELECT
        id AS room_id,
        :user_id,  -- noqa: AL03
        'owner' AS role,  -- noqa: RF04
        :per_room / 2 AS last_read_seq
    FROM new_rooms
)

INSERT INTO messages (room_id, seq, sender_id, content, created_at, deleted_at, deleted_by)
SELECT
    r.id AS room_id,
    s.seq,
    :user_id AS sender_id,
    'bulk message ' || s.seq AS content,  -- noqa: RF04
    now() - make_interval(secs => :per_room - s.seq) AS created_at,
    CASE WHEN mod(s.seq, 50) = 0 THEN now() END AS deleted_at,
    CASE WHEN mod(s.seq, 50) = 0 THEN :user_id::uuid END AS deleted_by
FROM new_rooms AS r
CROSS JOIN generate_series(1, :per_room) AS s (seq);

-- name: analyze_tables()!
-- Refreshes planner statistics after a bulk load.
ANALYZE users, rooms, room_users, messages, message_read_receipts, message_revisions;
