-- Raw statements the schema tests use to prove that the database itself enforces the data
-- model's rules (constraints, cascades, triggers), with no library code in between.

-- name: insert_user(id, email, username, password_hash)^
-- Inserts a user and returns its id and timestamps.
INSERT INTO users (id, email, username, password_hash)
VALUES (:id, :email, :username, :password_hash)
RETURNING id, created_at, updated_at;

-- name: get_user(id)^
-- One user row, or nothing.
SELECT
    id,
    email,
    username,
    created_at,
    updated_at
FROM users
WHERE id = :id;

-- name: rename_user(id, username)^
-- Changes a username and returns the new updated_at.
UPDATE users SET username = :username
WHERE id = :id
RETURNING updated_at;

-- name: delete_user(id)!
-- Deletes a user.
DELETE FROM users
WHERE id = :id;

-- name: insert_room(id, kind, name, created_by, direct_user_low, direct_user_high)^
-- Inserts a room and returns its id.
INSERT INTO rooms (id, kind, name, created_by, direct_user_low, direct_user_high)
VALUES (:id, :kind, :name, :created_by, :direct_user_low, :direct_user_high)
RETURNING id;

-- name: get_room(id)^
-- One room row, or nothing.
SELECT
    id,
    kind,
    name,
    created_by,
    direct_user_low,
    direct_user_high
FROM rooms
WHERE id = :id;

-- name: delete_room(id)!
-- Deletes a room.
DELETE FROM rooms
WHERE id = :id;

-- name: insert_member(room_id, user_id, role)!
-- Adds a member with a role.
INSERT INTO room_users (room_id, user_id, role)
VALUES (:room_id, :user_id, :role);

-- name: count_members(room_id)^
-- How many members a room has.
SELECT count(*) AS n FROM room_users
WHERE room_id = :room_id;

-- name: insert_message(id, room_id, seq, sender_id, kind, content, attachment, client_id)^
-- Inserts a message with an explicit seq and returns its id.
INSERT INTO messages (id, room_id, seq, sender_id, kind, content, attachment, client_id)
VALUES (:id, :room_id, :seq, :sender_id, :kind, :content, :attachment, :client_id)
RETURNING id;

-- name: get_message(id)^
-- One message row, or nothing.
SELECT
    id,
    room_id,
    seq,
    sender_id,
    kind,
    content
FROM messages
WHERE id = :id;

-- name: insert_revision(room_id, message_id, revision, content, edited_by)!
-- Keeps a previous version of a message.
INSERT INTO message_revisions (room_id, message_id, revision, content, edited_by, written_at)
VALUES (:room_id, :message_id, :revision, :content, :edited_by, now());

-- name: insert_receipt(room_id, message_id, user_id)!
-- Records that a user read a message.
INSERT INTO message_read_receipts (room_id, message_id, user_id)
VALUES (:room_id, :message_id, :user_id);

-- name: count_room_rows(room_id)^
-- Rows that belong to a room, table by table.
SELECT
    (
        SELECT count(*) FROM messages
        WHERE room_id = :room_id
    ) AS messages,
    (
        SELECT count(*) FROM message_revisions
        WHERE room_id = :room_id
    ) AS revisions,
    (
        SELECT count(*) FROM message_read_receipts
        WHERE room_id = :room_id
    ) AS receipts,
    (
        SELECT count(*) FROM room_users
        WHERE room_id = :room_id
    ) AS members;

-- name: record_migration(version)!
-- Records a migration version as dbmate would, as if a newer chatstore had applied it.
INSERT INTO schema_migrations (version) VALUES (:version);

-- name: terminate_other_backends()
-- Ends every other session on this database, as a server restart or a network cut would.
SELECT pg_terminate_backend(sa.pid) AS backend_ended
FROM pg_stat_activity AS sa
WHERE sa.datname = current_database() AND sa.pid <> pg_backend_pid();

-- name: outside_send(room_id, sender_id, content)^
-- A message written as an application's own SQL or a DBA might: the room's next seq and
-- the message in one statement, with no change-log entry and no read marker moved.
WITH bumped AS (
    UPDATE rooms SET last_seq = last_seq + 1
    WHERE id = :room_id
    RETURNING last_seq
)

INSERT INTO messages (room_id, seq, sender_id, kind, content)
SELECT
    :room_id::uuid AS room_id,
    b.last_seq,
    :sender_id::uuid AS sender_id,
    'text' AS kind,
    :content::text AS content  -- noqa: RF04
FROM bumped AS b
RETURNING id, seq;

-- name: outside_soft_delete(id)!
-- Soft-deletes a message with a plain UPDATE.
UPDATE messages SET deleted_at = now()
WHERE id = :id;

-- name: outside_set_read_marker(room_id, user_id, seq)!
-- Moves a member's read marker with a plain UPDATE.
UPDATE room_users SET last_read_seq = :seq
WHERE room_id = :room_id AND user_id = :user_id;
