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
-- One row per room the user belongs to: the room's last seq, the user's read marker, the
-- unread count (the member_unread view: messages after the marker, less the soft-deleted
-- ones) and the unread mention count (unread_mentions(): the messages after the marker
-- that name the user or mention the whole room, each once, deleted ones left out; two
-- index ranges per room), most recently active room first.
SELECT
    mu.room_id,
    mu.last_seq,
    mu.last_read_seq,
    mu.unread_count,
    um.unread_mentions AS unread_mention_count
FROM member_unread AS mu
-- A table function, inlined into this plan (migration 20261128100700).
CROSS JOIN LATERAL unread_mentions(mu.room_id, mu.user_id, mu.last_read_seq) AS um
WHERE mu.user_id = :user_id
ORDER BY mu.last_message_at DESC NULLS LAST, mu.room_id ASC;

-- name: add_member(room_id, user_id, role, actor_id)^
-- The new membership plus its member.joined log entry (event_* columns), or nothing when
-- the room does not exist. In one statement: bumps the room's last_event_seq (locking the
-- room row), inserts the member with joined_event_seq = that seq and the read marker at the
-- room's last seq (joining does not make the history unread), and appends the entry. An
-- existing member violates room_users_pkey and the whole statement writes nothing.
WITH bumped AS (
    UPDATE rooms
    SET last_event_seq = last_event_seq + 1
    WHERE id = :room_id
    RETURNING id, last_seq, last_event_seq
),

joined AS (
    INSERT INTO room_users (room_id, user_id, role, last_read_seq, joined_event_seq)
    SELECT
        b.id,
        :user_id,
        :role,
        b.last_seq,
        b.last_event_seq
    FROM bumped AS b
    RETURNING
        room_id,
        user_id,
        role,
        joined_at,
        last_read_seq,
        last_read_at,
        joined_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        j.room_id,
        j.joined_event_seq,
        'member.joined' AS event_type,
        :actor_id::uuid AS actor_id,
        jsonb_build_object('user_id', j.user_id, 'role', j.role) AS payload
    FROM joined AS j
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    j.room_id,
    j.user_id,
    j.role,
    j.joined_at,
    j.last_read_seq,
    j.last_read_at,
    j.joined_event_seq,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
FROM joined AS j
INNER JOIN logged AS l ON j.joined_event_seq = l.event_seq;

-- name: add_members_if_absent(room_id, user_ids)^
-- One row: how many of user_ids were added (those not yet members, as plain members with
-- the read marker at the room's last seq) and the event_seq of the first of their
-- member.joined log entries (NULL when none), which take consecutive event_seqs in the order
-- of user_ids; the entries' actor is the room's creator (a direct room's members are added
-- by whoever created it). The room's last_event_seq moves by the number added, in the same
-- statement. Membership is read from the statement's snapshot: run it where no other
-- transaction can add these members meanwhile (a direct room just created, or found after
-- its creator committed); a member added concurrently anyway makes the statement fail on
-- room_users_pkey rather than leave a gap in the log.
WITH absent AS (
    SELECT
        u.user_id,
        u.position
    FROM unnest(:user_ids::uuid[]) WITH ORDINALITY AS u (user_id, position)
    WHERE NOT EXISTS (
        SELECT FROM room_users AS ru
        WHERE ru.room_id = :room_id AND ru.user_id = u.user_id
    )
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + (SELECT count(*) FROM absent)
    WHERE r.id = :room_id AND EXISTS (SELECT FROM absent)
    RETURNING r.id, r.created_by, r.last_seq, r.last_event_seq
),

numbered AS (
    SELECT
        b.id AS room_id,
        b.created_by,
        a.user_id,
        b.last_seq,
        b.last_event_seq
        - (SELECT count(*) FROM absent)
        + row_number() OVER (ORDER BY a.position) AS event_seq
    FROM bumped AS b
    CROSS JOIN absent AS a
),

joined AS (
    INSERT INTO room_users (room_id, user_id, role, last_read_seq, joined_event_seq)
    SELECT
        n.room_id,
        n.user_id,
        'member' AS new_role,
        n.last_seq,
        n.event_seq
    FROM numbered AS n
    ORDER BY n.event_seq
    RETURNING room_id, user_id, role, joined_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        j.room_id,
        j.joined_event_seq,
        'member.joined' AS event_type,
        n.created_by,
        jsonb_build_object('user_id', j.user_id, 'role', j.role) AS payload
    FROM joined AS j
    INNER JOIN numbered AS n ON j.joined_event_seq = n.event_seq
    RETURNING event_seq
)

SELECT
    count(*) AS added_count,
    min(l.event_seq) AS first_event_seq
FROM logged AS l;

-- name: set_member_role(room_id, user_id, role, only_from_role, actor_id)^
-- The membership with its new role plus its member.role_changed log entry (event_* columns:
-- user_id, role, previous_role; NULL when the role did not change), or nothing when the
-- user is not a member (or, with only_from_role set, does not hold that role: an ownership
-- transfer demotes the owner only if they still are one). The room row is locked first
-- (the order every log write uses), then the membership row, read as previous_role.
WITH locked_room AS (
    SELECT r.id
    FROM rooms AS r
    WHERE r.id = :room_id
    FOR NO KEY UPDATE
),

previous AS (
    SELECT
        ru.room_id,
        ru.user_id,
        ru.role
    FROM room_users AS ru
    INNER JOIN locked_room AS lr ON ru.room_id = lr.id
    WHERE
        ru.user_id = :user_id
        AND (:only_from_role::text IS NULL OR ru.role = :only_from_role::text)
    FOR NO KEY UPDATE OF ru
),

changed AS (
    UPDATE room_users AS ru
    SET role = :role
    FROM previous AS p
    WHERE ru.room_id = p.room_id AND ru.user_id = p.user_id
    RETURNING
        ru.room_id,
        ru.user_id,
        ru.role,
        ru.joined_at,
        ru.last_read_seq,
        ru.last_read_at,
        p.role AS previous_role
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM changed AS c
    WHERE r.id = c.room_id AND c.role <> c.previous_role
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        c.room_id,
        b.last_event_seq,
        'member.role_changed' AS event_type,
        :actor_id::uuid AS actor_id,
        jsonb_build_object(
            'user_id', c.user_id, 'role', c.role, 'previous_role', c.previous_role
        ) AS payload
    FROM changed AS c
    INNER JOIN bumped AS b ON c.room_id = b.id
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    c.room_id,
    c.user_id,
    c.role,
    c.joined_at,
    c.last_read_seq,
    c.last_read_at,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
FROM changed AS c
LEFT JOIN logged AS l ON TRUE;

-- name: remove_member(room_id, user_id, actor_id)^
-- The member.left (actor_id is the user) or member.removed (payload also names removed_by)
-- log entry of an ended membership, or nothing when the user was not a member. Locks the
-- room row first (senders lock it before their membership row, so the reverse order here
-- could deadlock), then deletes the membership and appends the entry.
WITH locked_room AS (
    SELECT r.id
    FROM rooms AS r
    WHERE r.id = :room_id
    FOR NO KEY UPDATE
),

removed AS (
    DELETE FROM room_users AS ru
    USING locked_room AS lr
    WHERE ru.room_id = lr.id AND ru.user_id = :user_id
    RETURNING ru.room_id, ru.user_id, ru.role
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM removed AS d
    WHERE r.id = d.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        d.room_id,
        b.last_event_seq,
        CASE
            WHEN d.user_id = :actor_id::uuid THEN 'member.left' ELSE 'member.removed'
        END AS event_type,
        :actor_id::uuid AS actor_id,
        CASE
            WHEN d.user_id = :actor_id::uuid
                THEN jsonb_build_object('user_id', d.user_id, 'role', d.role)
            ELSE jsonb_build_object(
                'user_id', d.user_id, 'role', d.role, 'removed_by', :actor_id::uuid
            )
        END AS payload
    FROM removed AS d
    INNER JOIN bumped AS b ON d.room_id = b.id
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at
FROM logged AS l;

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

-- name: mark_read_up_to(room_id, user_id, seq)^
-- Moves the member's read marker forward to seq, clamped to the room's last_seq, never
-- backward; nothing when the room does not exist, else one row: is_member (a non-member
-- writes nothing), and for a member the marker after this statement (last_read_seq),
-- whether this statement moved it (moved), the exact unread count after it (the
-- member_unread rule: last_seq - marker - the soft-deleted messages after the marker,
-- counted on messages_deleted_room_seq_idx) and the unread mention count after it
-- (unread_mentions() from the new marker, as members.unread_counts counts). No read
-- receipt is written.
-- The membership row is locked first (the only lock taken, so no lock order to keep), so a
-- concurrent move is waited for and read, never undone; a marker a concurrent call moved
-- past this statement's snapshot of last_seq counts nothing unread.
WITH room AS (
    SELECT
        r.id,
        r.last_seq,
        least(:seq::bigint, r.last_seq) AS target_seq
    FROM rooms AS r
    WHERE r.id = :room_id
),

member AS (
    SELECT
        ru.room_id,
        ru.last_read_seq
    FROM room_users AS ru
    WHERE ru.room_id = :room_id AND ru.user_id = :user_id
    FOR NO KEY UPDATE
),

moved AS (
    UPDATE room_users AS ru
    SET
        last_read_seq = rm.target_seq,
        last_read_at = now()
    FROM room AS rm, member AS m
    WHERE
        ru.room_id = m.room_id
        AND ru.user_id = :user_id
        AND m.last_read_seq < rm.target_seq
    RETURNING ru.last_read_seq
),

marker AS (
    SELECT
        rm.id AS room_id,
        rm.last_seq,
        m.room_id IS NOT NULL AS is_member,
        mv.last_read_seq IS NOT NULL AS moved,
        coalesce(mv.last_read_seq, m.last_read_seq) AS last_read_seq
    FROM room AS rm
    LEFT JOIN member AS m ON TRUE
    LEFT JOIN moved AS mv ON TRUE
)

SELECT
    mk.room_id,
    mk.is_member,
    mk.moved,
    mk.last_read_seq,
    um.unread_mentions AS unread_mention_count,
    greatest(
        mk.last_seq - mk.last_read_seq - (
            SELECT count(*)
            FROM messages AS d
            WHERE
                d.room_id = mk.room_id
                AND d.seq > mk.last_read_seq
                AND d.deleted_at IS NOT NULL
        ),
        0
    ) AS unread_count
FROM marker AS mk
-- A table function, inlined into this plan (migration 20261128100700).
CROSS JOIN LATERAL unread_mentions(mk.room_id, :user_id::uuid, mk.last_read_seq) AS um;

-- name: mark_all_read(user_id)^
-- One row: moved_count, how many of the user's read markers this statement moved, each to
-- its room's last_seq (rooms read to their last message already are left alone, unwritten).
-- The memberships behind are locked in room order first, so two such calls for one user
-- wait for each other instead of deadlocking, and a marker a concurrent call moved further
-- is re-read and left where it is: never backward. No read receipt is written.
WITH behind AS (
    SELECT
        ru.room_id,
        r.last_seq
    FROM room_users AS ru
    INNER JOIN rooms AS r ON ru.room_id = r.id
    WHERE ru.user_id = :user_id AND ru.last_read_seq < r.last_seq
    ORDER BY ru.room_id
    FOR NO KEY UPDATE OF ru
),

moved AS (
    UPDATE room_users AS ru
    SET
        last_read_seq = b.last_seq,
        last_read_at = now()
    FROM behind AS b
    WHERE
        ru.room_id = b.room_id
        AND ru.user_id = :user_id
        AND ru.last_read_seq < b.last_seq
    RETURNING ru.room_id
)

SELECT count(*) AS moved_count
FROM moved;
