-- Rooms: public, private and direct conversations, and a user's room list.
-- Every query returns the same room columns, so one Python mapper reads them all.

-- name: create_room(kind, name, description, created_by)^
-- Inserts a public or private room and returns it (the caller adds the owner membership).
INSERT INTO rooms (kind, name, description, created_by)
VALUES (:kind, :name, :description, :created_by)
RETURNING
    id,
    kind,
    name,
    description,
    created_by,
    last_seq,
    last_message_at,
    created_at,
    updated_at;

-- name: get_room(room_id)^
-- One room, or nothing.
SELECT
    id,
    kind,
    name,
    description,
    created_by,
    last_seq,
    last_message_at,
    created_at,
    updated_at
FROM rooms
WHERE id = :room_id;

-- name: get_room_with_role(room_id, user_id)^
-- One room plus the user's role in it (member_role NULL when not a member), or nothing
-- when the room does not exist: the one read every permission check needs.
SELECT
    r.id,
    r.kind,
    r.name,
    r.description,
    r.created_by,
    r.last_seq,
    r.last_message_at,
    r.created_at,
    r.updated_at,
    ru.role AS member_role
FROM rooms AS r
LEFT JOIN room_users AS ru ON r.id = ru.room_id AND ru.user_id = :user_id
WHERE r.id = :room_id;

-- name: update_room(room_id, name, set_description, description, actor_id)^
-- The room after renaming (name NULL keeps it) and/or re-describing (only when
-- set_description) plus its room.updated log entry (event_* columns: the name and
-- description now), or nothing when it does not exist. The same UPDATE bumps
-- last_event_seq under the room row lock it takes anyway (rooms_set_updated_at stamps
-- updated_at for the name and description, never for the bump).
WITH updated AS (
    UPDATE rooms
    SET
        name = coalesce(:name, name),
        description = CASE WHEN :set_description THEN :description ELSE description END,
        last_event_seq = last_event_seq + 1
    WHERE id = :room_id
    RETURNING
        id,
        kind,
        name,
        description,
        created_by,
        last_seq,
        last_message_at,
        created_at,
        updated_at,
        last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        u.id,
        u.last_event_seq,
        'room.updated' AS event_type,
        :actor_id::uuid AS actor_id,
        jsonb_build_object('name', u.name, 'description', u.description) AS payload
    FROM updated AS u
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    u.id,
    u.kind,
    u.name,
    u.description,
    u.created_by,
    u.last_seq,
    u.last_message_at,
    u.created_at,
    u.updated_at,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
FROM updated AS u
INNER JOIN logged AS l ON u.id = l.room_id;

-- name: delete_room(room_id)!
-- Deletes a room (memberships, messages, revisions, receipts and its change log cascade;
-- the membership_version trigger bumps each former member); 1 or 0 rows.
DELETE FROM rooms
WHERE id = :room_id;

-- name: get_direct_room(user_low, user_high)^
-- The direct room of a pair (user_low < user_high), or nothing.
SELECT
    id,
    kind,
    name,
    description,
    created_by,
    last_seq,
    last_message_at,
    created_at,
    updated_at
FROM rooms
WHERE direct_user_low = :user_low AND direct_user_high = :user_high;

-- name: insert_direct_room(user_low, user_high, created_by)^
-- Inserts the direct room of a pair (user_low < user_high) and returns it, or nothing when
-- the pair already has one: a concurrent creator waits here and then gets nothing.
INSERT INTO rooms (kind, created_by, direct_user_low, direct_user_high)
VALUES ('direct', :created_by, :user_low, :user_high)
ON CONFLICT (direct_user_low, direct_user_high) DO NOTHING
RETURNING
    id,
    kind,
    name,
    description,
    created_by,
    last_seq,
    last_message_at,
    created_at,
    updated_at;

-- name: rooms_of_user(user_id)
-- The user's rooms, most recently active first (rooms without messages last, newest
-- first), each with the user's role, read marker, exact unread count (the member_unread
-- view, shared with members.unread_counts) and unread mention count (unread_mentions(),
-- as members.unread_counts counts it); the room's last message as a preview
-- (last_message_* columns, all NULL when the room has no message); and for a direct room
-- the other user (direct_user_* columns, NULL once that user is deleted, and for other
-- rooms). The last message is the one at the room's last_seq, found through
-- messages_room_seq_key, so the list costs one index probe per room whatever the history.
-- The preview is what message_preview() makes of it, as plain columns: the driver reads
-- those without a jsonb document per room to parse.
SELECT
    r.id,
    r.kind,
    r.name,
    r.description,
    r.created_by,
    r.last_seq,
    r.last_message_at,
    r.created_at,
    r.updated_at,
    mu.role,
    mu.last_read_seq,
    mu.unread_count,
    du.id AS direct_user_id,
    du.username AS direct_user_username,
    du.display_name AS direct_user_display_name,
    um.unread_mentions AS unread_mention_count,
    lm.id AS last_message_id,
    lm.seq AS last_message_seq,
    lm.sender_id AS last_message_sender_id,
    lm.kind AS last_message_kind,
    lm.created_at AS last_message_created_at,
    -- Cut and masked as message_preview() does: a deleted message's text stays here.
    CASE WHEN lm.deleted_at IS NULL THEN left(lm.content, 100) END AS last_message_content,
    lm.deleted_at IS NOT NULL AS last_message_is_deleted
FROM member_unread AS mu
INNER JOIN rooms AS r ON mu.room_id = r.id
-- A table function, inlined into this plan (migration 20261128100700).
CROSS JOIN LATERAL unread_mentions(r.id, mu.user_id, mu.last_read_seq) AS um
LEFT JOIN messages AS lm ON r.id = lm.room_id AND r.last_seq = lm.seq
-- The pair column that is not the reader; a deleted user's column is NULL, which joins
-- nothing.
LEFT JOIN users AS du
    ON
        r.kind = 'direct'
        AND CASE
            WHEN mu.user_id = r.direct_user_low THEN r.direct_user_high
            ELSE r.direct_user_low
        END = du.id
WHERE mu.user_id = :user_id
ORDER BY r.last_message_at DESC NULLS LAST, r.created_at DESC, r.id ASC;

-- name: public_rooms(after_name, after_id, limit)
-- Up to `limit` public rooms after the keyset cursor (after_name, after_id) in the order
-- (lower(name), id), each with its member count (rooms.member_count, kept by a trigger),
-- its last activity (the last message, else the room's creation) and name_key, the
-- lower(name) a next page's cursor carries. The first page starts after ('', any id): no
-- name is empty. Walks rooms_public_name_idx from the cursor, so a page reads only its own
-- rows however many rooms there are.
SELECT
    r.id,
    r.kind,
    r.name,
    r.description,
    r.created_by,
    r.last_seq,
    r.last_message_at,
    r.created_at,
    r.updated_at,
    r.member_count,
    coalesce(r.last_message_at, r.created_at) AS last_activity_at,
    lower(r.name) AS name_key
FROM rooms AS r
WHERE
    r.kind = 'public'
    AND (lower(r.name), r.id) > (:after_name::text, :after_id::uuid)
ORDER BY lower(r.name) ASC, r.id ASC
LIMIT :limit;

-- name: search_public_rooms(pattern, after_name, after_id, limit)
-- public_rooms, only the rooms whose lowercased name matches the LIKE pattern (built by
-- the caller with its wildcards escaped: '%' || term || '%'; lowered here as the names are,
-- so both go through the same lower()). rooms_public_name_trgm_idx finds the matches from
-- the term's trigrams; a term too short for trigrams, or one the planner guesses common,
-- walks rooms_public_name_idx from the cursor instead, filtering, up to a page of matches.
SELECT
    r.id,
    r.kind,
    r.name,
    r.description,
    r.created_by,
    r.last_seq,
    r.last_message_at,
    r.created_at,
    r.updated_at,
    r.member_count,
    coalesce(r.last_message_at, r.created_at) AS last_activity_at,
    lower(r.name) AS name_key
FROM rooms AS r
WHERE
    r.kind = 'public'
    AND lower(r.name) LIKE lower(:pattern)
    AND (lower(r.name), r.id) > (:after_name::text, :after_id::uuid)
ORDER BY lower(r.name) ASC, r.id ASC
LIMIT :limit;
