-- Room membership: roles and read markers.

-- name: get_member(room_id, user_id)^
-- The membership row of a user in a room, or nothing when they are not a member.
SELECT
    room_id,
    user_id,
    role,
    joined_at,
    last_read_seq,
    last_read_at
FROM room_users
WHERE room_id = :room_id AND user_id = :user_id;

-- name: unread_counts(user_id)
-- One row per room the user belongs to: the room's last seq, the user's read marker and
-- the unread count (the member_unread view: messages after the marker, less the
-- soft-deleted ones), most recently active room first.
SELECT
    mu.room_id,
    mu.last_seq,
    mu.last_read_seq,
    mu.unread_count
FROM member_unread AS mu
WHERE mu.user_id = :user_id
ORDER BY mu.last_message_at DESC NULLS LAST, mu.room_id ASC;

-- name: add_member(room_id, user_id, role)^
-- Adds a member and returns the membership, or nothing when the room does not exist. The
-- read marker starts at the room's last seq: joining does not make the history unread.
INSERT INTO room_users (room_id, user_id, role, last_read_seq)
SELECT
    r.id,
    :user_id,
    :role,
    r.last_seq
FROM rooms AS r
WHERE r.id = :room_id
RETURNING
    room_id,
    user_id,
    role,
    joined_at,
    last_read_seq,
    last_read_at;

-- name: add_members_if_absent(room_id, user_ids)!
-- Adds each user as a plain member unless already one (read marker at the room's last
-- seq); returns how many were added.
INSERT INTO room_users (room_id, user_id, role, last_read_seq)
SELECT
    r.id,
    u.user_id,
    'member' AS new_role,
    r.last_seq
FROM rooms AS r
CROSS JOIN unnest(:user_ids::uuid[]) AS u (user_id)
WHERE r.id = :room_id
ON CONFLICT (room_id, user_id) DO NOTHING;

-- name: set_member_role(room_id, user_id, role)^
-- Changes a member's role and returns the membership, or nothing when not a member.
UPDATE room_users
SET role = :role
WHERE room_id = :room_id AND user_id = :user_id
RETURNING
    room_id,
    user_id,
    role,
    joined_at,
    last_read_seq,
    last_read_at;

-- name: demote_owner(room_id, user_id)^
-- Turns the room's owner into an admin (the first half of an ownership transfer) and
-- returns the membership, or nothing when the user is no longer the owner.
UPDATE room_users
SET role = 'admin'
WHERE room_id = :room_id AND user_id = :user_id AND role = 'owner'
RETURNING
    room_id,
    user_id,
    role,
    joined_at,
    last_read_seq,
    last_read_at;

-- name: remove_member(room_id, user_id)!
-- Ends a membership; 1 row, or 0 when the user was not a member.
DELETE FROM room_users
WHERE room_id = :room_id AND user_id = :user_id;

-- name: list_members(room_id, limit, offset)
-- A page of a room's members, earliest joined first (user_id breaks ties).
SELECT
    room_id,
    user_id,
    role,
    joined_at,
    last_read_seq,
    last_read_at
FROM room_users
WHERE room_id = :room_id
ORDER BY joined_at ASC, user_id ASC
LIMIT :limit OFFSET :offset;
