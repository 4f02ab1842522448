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

-- name: mention_rows()
-- Every message_mentions row: the message, the member it names and the seq it carries,
-- in seq order, then by member.
SELECT
    message_id,
    user_id,
    room_id,
    seq
FROM message_mentions
ORDER BY room_id, seq, user_id;

-- name: bulk_load_mentions(owner_id, named_every, room_every)!
-- Mentions for the plan checks (tests/test_query_plans.py): the owner of the bulk rooms is
-- named by every message whose seq is 3 past a multiple of named_every (those not
-- deleted: a deleted message has no mention rows), one message_mentions row each. Every
-- message 7 past a multiple of room_every (not deleted) mentions the whole room, sent by
-- the room's first plain member (so it is in the owner's inbox). Disjoint rows when
-- room_every is a multiple of named_every, so no message is updated twice.
WITH named AS (
    UPDATE messages AS m
    SET mentioned_ids = ARRAY[:owner_id::uuid]
    WHERE mod(m.seq, :named_every) = 3 AND m.deleted_at IS NULL
    RETURNING m.room_id, m.id, m.seq, m.created_at
),

named_rows AS (
    INSERT INTO message_mentions (room_id, message_id, user_id, seq, created_at)
    SELECT
        n.room_id,
        n.id,
        :owner_id,
        n.seq,
        n.created_at
    FROM named AS n
)

UPDATE messages AS m
SET
    mentions_room = TRUE,
    sender_id = (
        SELECT ru.user_id
        FROM room_users AS ru
        WHERE ru.room_id = m.room_id AND ru.role = 'member'
        ORDER BY ru.user_id
        LIMIT 1
    )
WHERE mod(m.seq, :room_every) = 7 AND m.deleted_at IS NULL;

-- name: backdate_memberships(user_id)!
-- Moves the user's joined_at a day back, before every bulk message, so each room's @room
-- messages count as sent after the user joined (bulk messages are dated before the load).
UPDATE room_users
SET joined_at = joined_at - interval '1 day'
WHERE user_id = :user_id;

-- name: analyze_mentions()!
-- Planner statistics after the mentions' bulk load.
ANALYZE messages, message_mentions, room_users;

-- name: mention_after(user_id, skipped)^
-- The inbox cursor (created_at, message_id) of the user's newest named mention after
-- skipping `skipped` newer ones.
SELECT
    created_at,
    message_id
FROM message_mentions
WHERE user_id = :user_id
ORDER BY created_at DESC, message_id DESC
LIMIT 1 OFFSET :skipped;

-- name: scans_in_this_transaction()
-- How many sequential and index scans this transaction has made so far of messages and
-- message_mentions (pg_stat_xact_user_tables: not yet flushed to the cumulative
-- statistics), SQL functions' scans included.
SELECT
    relname AS table_name,
    seq_scan,
    idx_scan
FROM pg_stat_xact_user_tables
WHERE relname IN ('messages', 'message_mentions')
ORDER BY relname;
