-- Raw statements the conversation tests (pins, reactions, read markers, the public room
-- directory) use to look at the rows chatstore wrote, or to write rows behind its back,
-- with no library code in between.

-- name: pin_rows()
-- Every pin: the pinned message and who pinned it, oldest pin first.
SELECT
    message_id,
    pinned_by
FROM message_pins
ORDER BY pinned_at, message_id;

-- name: count_reactions()^
-- How many reactions are stored, in every room.
SELECT count(*) AS n FROM message_reactions;

-- name: count_receipts()^
-- How many read receipts are stored, in every room.
SELECT count(*) AS n FROM message_read_receipts;

-- name: sessions_waiting_for_a_lock()^
-- How many sessions of this database are waiting for a lock right now.
SELECT count(*) AS n
FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock';

-- name: member_counts(room_id)^
-- A room's stored member count (rooms.member_count) and its memberships counted from
-- room_users; nothing if there is no such room.
SELECT
    r.member_count,
    (
        SELECT count(*) FROM room_users AS ru
        WHERE ru.room_id = r.id
    ) AS counted
FROM rooms AS r
WHERE r.id = :room_id;

-- name: all_member_counts()
-- Every room's id and stored member count.
SELECT
    id,
    member_count
FROM rooms;

-- name: delete_members(room_id)!
-- Removes every membership of a room with a plain DELETE, as a DBA might.
DELETE FROM room_users
WHERE room_id = :room_id;

-- name: count_columns(table_name, column_name)^
-- How many columns of that name a table of that name has (0 or 1 in one schema).
SELECT count(*) AS n
FROM information_schema.columns
WHERE table_name = :table_name AND column_name = :column_name;

-- name: create_reaction_probe#
-- A session-private empty table shaped like message_reactions, with its CHECK constraints
-- (message_reactions_reaction_format, under that name) copied by PostgreSQL from the
-- catalog; no foreign keys, keys or triggers, so a probe insert costs only the checks.
CREATE TEMPORARY TABLE reaction_probe (
    LIKE message_reactions INCLUDING CONSTRAINTS INCLUDING DEFAULTS
);

-- name: probe_reaction(reaction)!
-- Inserts one reaction key into reaction_probe: raises a CheckViolation if
-- message_reactions would refuse that key.
INSERT INTO reaction_probe (room_id, message_id, user_id, reaction)
VALUES (
    '00000000-0000-0000-0000-000000000000',
    '00000000-0000-0000-0000-000000000000',
    '00000000-0000-0000-0000-000000000000',
    :reaction
);

-- name: probe_code_points(low, high)!
-- Inserts into reaction_probe one key per code point from low to high, each the single
-- character chr(c) (surrogates skipped: text cannot hold them). Returns the row count, or
-- raises a CheckViolation if message_reactions would refuse any of those keys.
INSERT INTO reaction_probe (room_id, message_id, user_id, reaction)
SELECT
    '00000000-0000-0000-0000-000000000000'::uuid AS room_id,
    '00000000-0000-0000-0000-000000000000'::uuid AS message_id,
    '00000000-0000-0000-0000-000000000000'::uuid AS user_id,
    chr(g.c) AS reaction
FROM generate_series(:low::integer, :high::integer) AS g (c)
WHERE g.c < 55296 OR g.c > 57343;
