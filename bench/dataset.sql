-- Loading the benchmark dataset (bench/load.py): the COPY targets, the checks run once the
-- rows are in, and the statistics the planner needs before anything is measured.

-- name: skip_triggers()!
-- For this session only: no triggers and no foreign-key checks while the dataset is copied.
-- The generator writes consistent rows (broken_rooms and orphans check them afterwards), and
-- the membership_version trigger would otherwise update users once per membership row.
SET session_replication_role = replica;

-- name: copy_users()#
-- COPY target for bench.dataset.Dataset.user_rows.
COPY users (
    id, email, username, display_name, password_hash, created_at, updated_at,
    membership_version
) FROM STDIN;

-- name: copy_rooms()#
-- COPY target for bench.dataset.Dataset.room_rows (last_event_seq stays 0: no log yet).
COPY rooms (
    id, kind, name, created_by, direct_user_low, direct_user_high, last_seq,
    last_message_at, created_at, updated_at
) FROM STDIN;

-- name: copy_members()#
-- COPY target for bench.dataset.Dataset.member_rows (joined_event_seq stays 0: "joined
-- before the log").
COPY room_users (
    room_id, user_id, role, joined_at, last_read_seq, last_read_at
) FROM STDIN;

-- name: copy_messages()#
-- COPY target for bench.messages.message_rows.
COPY messages (
    id, room_id, seq, sender_id, kind, content, attachment, client_id, created_at,
    updated_at, edited_at, edit_count, deleted_at, deleted_by
) FROM STDIN;

-- name: copy_revisions()#
-- COPY target for the revisions bench.messages.message_rows collects.
COPY message_revisions (
    room_id, message_id, revision, content, attachment, edited_by, written_at, replaced_at
) FROM STDIN;

-- name: copy_receipts()#
-- COPY target for bench.dataset.Dataset.receipt_rows.
COPY message_read_receipts (room_id, message_id, user_id, read_at) FROM STDIN;

-- name: broken_rooms()^
-- One row: how many rooms break the seq rule (last_seq must equal both the number of the
-- room's messages and its highest seq; with seqs unique per room and positive, that means
-- gap-free 1..last_seq).
WITH per_room AS (
    SELECT
        msg.room_id,
        count(*) AS message_count,
        max(msg.seq) AS top_seq
    FROM messages AS msg
    GROUP BY msg.room_id
)

SELECT count(*) AS broken_rooms
FROM rooms AS r
LEFT JOIN per_room AS m ON r.id = m.room_id
WHERE
    r.last_seq <> coalesce(m.message_count, 0)
    OR r.last_seq <> coalesce(m.top_seq, 0);

-- name: orphans()^
-- One row: rows whose references the skipped foreign-key checks would have refused.
SELECT
    (
        SELECT count(*) FROM room_users AS ru
        WHERE NOT EXISTS (
            SELECT FROM users AS u
            WHERE u.id = ru.user_id
        )
    )
    + (
        SELECT count(*) FROM messages AS m
        WHERE NOT EXISTS (
            SELECT FROM rooms AS r
            WHERE r.id = m.room_id
        )
    )
    + (
        SELECT count(*) FROM message_read_receipts AS rc
        WHERE NOT EXISTS (
            SELECT FROM messages AS m
            WHERE m.room_id = rc.room_id AND m.id = rc.message_id
        )
    ) AS orphan_rows;

-- name: table_counts()^
-- One row: how many rows each table of the dataset holds.
SELECT
    (SELECT count(*) FROM users) AS users,  -- noqa: RF04
    (SELECT count(*) FROM rooms) AS rooms,
    (SELECT count(*) FROM room_users) AS memberships,
    (SELECT count(*) FROM messages) AS messages,
    (SELECT count(*) FROM message_revisions) AS revisions,
    (SELECT count(*) FROM message_read_receipts) AS receipts,
    (
        SELECT count(*) FROM messages
        WHERE deleted_at IS NOT NULL
    ) AS deleted_messages,
    (
        SELECT count(*) FROM messages
        WHERE edit_count > 0
    ) AS edited_messages;

-- name: vacuum_analyze()#
-- Statistics for the planner and a visibility map for index-only scans, as a database that
-- has been running a while would have.
VACUUM (ANALYZE);
