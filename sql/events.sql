-- The room change log (room_events): reading it after a cursor, the heads and memberships a
-- live stream follows, an application's own entries, and retention.
--
-- Every entry is appended by the statement that makes the change (sql/messages.sql,
-- members.sql, rooms.sql, append_event here), which takes the room row lock and bumps
-- rooms.last_event_seq in the same statement, so event_seq is gap-free per room in commit
-- order. Entries up to rooms.pruned_through may have been pruned; every later one exists.

-- name: entries_after(room_id, after_seq, limit)
-- The room's entries with event_seq > after_seq, oldest first, at most limit of them.
SELECT
    room_id,
    event_seq,
    type,
    actor_id,
    payload,
    created_at
FROM room_events
WHERE room_id = :room_id AND event_seq > :after_seq
ORDER BY event_seq ASC
LIMIT :limit;

-- name: entries_after_many(room_ids, after_seqs, limit)
-- For each room in room_ids, its entries with event_seq > the matching after_seqs value,
-- oldest first and at most limit per room, ordered by room then event_seq. Each room walks
-- the primary key from its own cursor, so the cost is the rows returned.
WITH cursors AS (
    SELECT
        c.room_id,
        c.after_seq
    FROM unnest(:room_ids::uuid[], :after_seqs::bigint[]) AS c (room_id, after_seq)
)

SELECT
    e.room_id,
    e.event_seq,
    e.type,
    e.actor_id,
    e.payload,
    e.created_at
FROM cursors AS c
INNER JOIN LATERAL (
    SELECT
        re.room_id,
        re.event_seq,
        re.type,
        re.actor_id,
        re.payload,
        re.created_at
    FROM room_events AS re
    WHERE re.room_id = c.room_id AND re.event_seq > c.after_seq
    ORDER BY re.event_seq ASC
    LIMIT :limit
) AS e ON TRUE
ORDER BY e.room_id ASC, e.event_seq ASC;

-- name: heads(room_ids)
-- One row per existing room among room_ids: the newest event_seq handed out and the
-- event_seq up to which entries may have been pruned.
SELECT
    r.id AS room_id,
    r.last_event_seq,
    r.pruned_through
FROM rooms AS r
WHERE r.id = any(:room_ids::uuid[])
ORDER BY r.id ASC;

-- name: head_numbers(room_ids)
-- One row per element of room_ids, in their order: the room's last_event_seq and
-- pruned_through, both NULL when there is no such room. For the feed's poll of every room
-- of a process each second: numbers only, so a thousand rooms come back without a thousand
-- room ids to parse and map (those objects outlived a young-generation collection and
-- drove the full ones that stalled the event loop).
SELECT
    r.last_event_seq,
    r.pruned_through
FROM unnest(:room_ids::uuid[]) WITH ORDINALITY AS wanted (room_id, position)
LEFT JOIN rooms AS r ON wanted.room_id = r.id
ORDER BY wanted.position ASC;

-- name: membership_versions(user_ids)
-- One row per existing user among user_ids with their membership_version, which moves
-- whenever one of their memberships is added or removed (a trigger on room_users).
SELECT
    u.id AS user_id,
    u.membership_version
FROM users AS u
WHERE u.id = any(:user_ids::uuid[])
ORDER BY u.id ASC;

-- name: memberships(user_id)
-- One row per room the user belongs to: the role, the event_seq of the member.joined entry
-- that made them a member, and the room's log head (last_event_seq, pruned_through).
SELECT
    ru.room_id,
    ru.role,
    ru.joined_event_seq,
    r.last_event_seq,
    r.pruned_through
FROM room_users AS ru
INNER JOIN rooms AS r ON ru.room_id = r.id
WHERE ru.user_id = :user_id
ORDER BY ru.room_id ASC;

-- name: append_event(room_id, actor_id, type, payload)^
-- One row when the room exists (nothing otherwise): whether the actor is a member, and the
-- appended entry (event_* columns, NULL for a non-member). The room row is locked first
-- (the order every log write uses), then the actor's membership row: a membership that
-- ended while this waited for the room lock counts as ended.
WITH locked_room AS (
    SELECT r.id
    FROM rooms AS r
    WHERE r.id = :room_id
    FOR NO KEY UPDATE
),

membership AS (
    SELECT ru.room_id
    FROM room_users AS ru
    INNER JOIN locked_room AS lr ON ru.room_id = lr.id
    WHERE ru.user_id = :actor_id
    FOR KEY SHARE OF ru
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM membership AS m
    WHERE r.id = m.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        b.id,
        b.last_event_seq,
        :type,
        :actor_id,
        :payload::jsonb
    FROM bumped AS b
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at,
    m.room_id IS NOT NULL AS is_member
FROM locked_room AS lr
LEFT JOIN membership AS m ON lr.id = m.room_id
LEFT JOIN logged AS l ON lr.id = l.room_id;

-- name: prune_events(older_than, limit)^
-- One row: how many entries were deleted. Deletes up to limit entries created more than
-- older_than ago, oldest first, and raises each affected room's pruned_through to the
-- highest event_seq deleted there, in the same statement, so every entry above
-- pruned_through still exists. It never waits: entries and rooms locked by someone else
-- (a room being written to right now) are skipped and pruned by a later call, so pruning
-- neither delays a send nor deadlocks with one. The head stays in rooms.last_event_seq, so
-- a room may be pruned down to no entries at all.
WITH due AS (
    SELECT
        e.room_id,
        e.event_seq
    FROM room_events AS e
    WHERE e.created_at < now() - :older_than::interval
    ORDER BY e.created_at ASC
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
),

free_rooms AS (
    SELECT r.id
    FROM rooms AS r
    WHERE r.id IN (SELECT d.room_id FROM due AS d)
    FOR NO KEY UPDATE SKIP LOCKED
),

deleted AS (
    DELETE FROM room_events AS e
    USING due AS d, free_rooms AS f
    WHERE
        e.room_id = d.room_id
        AND e.event_seq = d.event_seq
        AND d.room_id = f.id
    RETURNING e.room_id, e.event_seq
),

raised AS (
    UPDATE rooms AS r
    SET pruned_through = greatest(r.pruned_through, t.top_seq)
    FROM (
        SELECT
            dl.room_id,
            max(dl.event_seq) AS top_seq
        FROM deleted AS dl
        GROUP BY dl.room_id
    ) AS t
    WHERE r.id = t.room_id
    RETURNING r.id
)

SELECT count(*) AS deleted_count
FROM deleted;
