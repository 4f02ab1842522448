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

-- name: bulk_load_people(owner_id, people, password_hash)!
-- Creates `people` users, each a plain member of one of the owner's rooms in turn, with
-- the read marker at seq 10 and a read receipt for that room's message 10.
WITH people AS (
    INSERT INTO users (email, username, password_hash)
    SELECT
        'person' || g.n || '@example.com' AS email,  -- noqa: RF04
        'person' || g.n AS username,
        :password_hash  -- noqa: AL03
    FROM generate_series(1, :people) AS g (n)
    RETURNING id
),

numbered_people AS (
    SELECT
        id,
        row_number() OVER (ORDER BY id) AS n
    FROM people
),

numbered_rooms AS (
    SELECT
        id,
        row_number() OVER (ORDER BY id) - 1 AS n,
        count(*) OVER () AS total
    FROM rooms
    WHERE created_by = :owner_id
),

joined AS (
    INSERT INTO room_users (room_id, user_id, role, last_read_seq)
    SELECT
        r.id AS room_id,
        p.id AS user_id,
        'member' AS role,  -- noqa: RF04
        10 AS last_read_seq
    FROM numbered_people AS p
    INNER JOIN numbered_rooms AS r ON mod(p.n, r.total) = r.n
    RETURNING room_id, user_id
)

INSERT INTO message_read_receipts (room_id, message_id, user_id)
SELECT
    j.room_id,
    m.id AS message_id,
    j.user_id
FROM joined AS j
INNER JOIN messages AS m ON j.room_id = m.room_id AND m.seq = 10;

-- name: bulk_load_hot_room(owner_id, messages, members, password_hash)^
-- Creates one big public room, as real chats have, and returns its id: `messages` messages
-- (seqs 1..messages, every 50th soft-deleted, the owner's read marker halfway) and
-- `members` new users as plain members (marker at seq 10, a read receipt for message 10).
-- Planner statistics then see one room_id holding a large share of messages, memberships
-- and receipts, so a plan that is only good for an average room shows up in the checks.
WITH hot AS (
    INSERT INTO rooms (kind, name, created_by, last_seq, last_message_at)
    VALUES ('public', 'bulk-hot', :owner_id, :messages, now())
    RETURNING id
),

owner AS (
    INSERT INTO room_users (room_id, user_id, role, last_read_seq)
    SELECT
        id AS room_id,
        :owner_id,  -- noqa: AL03
        'owner' AS role,  -- noqa: RF04
        :messages / 2 AS last_read_seq
    FROM hot
),

people AS (
    INSERT INTO users (email, username, password_hash)
    SELECT
        'hot' || g.n || '@example.com' AS email,  -- noqa: RF04
        'hot' || g.n AS username,
        :password_hash  -- noqa: AL03
    FROM generate_series(1, :members) AS g (n)
    RETURNING id
),

joined AS (
    INSERT INTO room_users (room_id, user_id, role, last_read_seq)
    SELECT
        h.id AS room_id,
        p.id AS user_id,
        'member' AS role,  -- noqa: RF04
        10 AS last_read_seq
    FROM hot AS h
    CROSS JOIN people AS p
    RETURNING room_id, user_id
),

posted AS (
    INSERT INTO messages (
        room_id, seq, sender_id, content, created_at, deleted_at, deleted_by
    )
    SELECT
        h.id AS room_id,
        s.seq,
        :owner_id AS sender_id,
        'bulk message ' || s.seq AS content,  -- noqa: RF04
        now() - make_interval(secs => :messages - s.seq) AS created_at,
        CASE WHEN mod(s.seq, 50) = 0 THEN now() END AS deleted_at,
        CASE WHEN mod(s.seq, 50) = 0 THEN :owner_id::uuid END AS deleted_by
    FROM hot AS h
    CROSS JOIN generate_series(1, :messages) AS s (seq)
    RETURNING id, seq
),

receipts AS (
    INSERT INTO message_read_receipts (room_id, message_id, user_id)
    SELECT
        j.room_id,
        m.id AS message_id,
        j.user_id
    FROM joined AS j
    INNER JOIN posted AS m ON m.seq = 10
)

SELECT id FROM hot;

-- name: bulk_load_edits(per_room)!
-- Edits the first `per_room` messages of every room once (those not deleted), keeping each
-- original text as revision 1, as edit_message does.
WITH edited AS (
    UPDATE messages
    SET
        content = 'edited ' || content,
        edit_count = 1,
        edited_at = now()
    WHERE seq <= :per_room AND deleted_at IS NULL
    RETURNING room_id, id, seq, sender_id, created_at
)

INSERT INTO message_revisions (
    room_id, message_id, content, revision, edited_by, written_at
)
SELECT
    room_id,
    id AS message_id,
    'bulk message ' || seq AS content,  -- noqa: RF04
    1 AS revision,
    sender_id AS edited_by,
    created_at AS written_at
FROM edited;

-- name: analyze_tables()!
-- Refreshes planner statistics after a bulk load.
ANALYZE users, rooms, room_users, messages, message_read_receipts, message_revisions;

-- name: message_at(room_id, seq)^
-- The id of the message with this seq in the room, or nothing.
SELECT id
FROM messages
WHERE room_id = :room_id AND seq = :seq;
