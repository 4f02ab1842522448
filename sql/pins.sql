-- Pinned messages (message_pins): pinning, unpinning, and a room's pins newest first.
--
-- Who may pin and unpin is decided here, inside the statement that writes (may_pin): in a
-- direct room either of its two members; in a public or private room its owner and admins.
-- Pinning and unpinning append message.pinned / message.unpinned to the room's change log in
-- the same statement, taking the room row lock first and bumping rooms.last_event_seq, like
-- sql/reactions.sql (see there for is_stale: a snapshot taken before the lock wait, whose
-- statement writes nothing and is run again under the room lock). A soft-deleted message
-- keeps its pin and is listed masked, as sql/messages.sql get_message masks it.

-- name: pin_message(message_id, user_id)^
-- One row when the message exists (nothing otherwise): is_member, may_pin, is_deleted,
-- is_stale (nothing written: run again under the room lock), whether the pin is new, the
-- pin (pinned_by, pinned_at: the earlier one when the message already was pinned; NULL when
-- refused), and the message.pinned log entry (event_* columns; payload: message_id, seq,
-- pinned_by, pinned_at). A deleted message is not pinned.
WITH locked_room AS (
    SELECT
        r.id,
        r.kind,
        r.last_event_seq
    FROM messages AS msg
    INNER JOIN rooms AS r ON msg.room_id = r.id
    WHERE msg.id = :message_id
    FOR NO KEY UPDATE OF r
),

target AS (
    SELECT
        m.room_id,
        m.id,
        m.seq,
        lr.kind AS room_kind,
        m.deleted_at IS NOT NULL AS is_deleted,
        -- The snapshot's room row behind the locked one: a change committed meanwhile.
        seen.last_event_seq <> lr.last_event_seq AS is_stale
    FROM locked_room AS lr
    INNER JOIN rooms AS seen ON lr.id = seen.id
    INNER JOIN messages AS m ON lr.id = m.room_id
    WHERE m.id = :message_id
),

-- Locked after the room: a membership that ended while this waited counts as ended.
membership AS (
    SELECT
        ru.room_id,
        ru.role
    FROM room_users AS ru
    INNER JOIN target AS t ON ru.room_id = t.room_id
    WHERE ru.user_id = :user_id
    FOR KEY SHARE OF ru
),

allowed AS (
    SELECT
        t.room_id,
        t.id,
        t.seq,
        t.is_deleted,
        t.is_stale,
        (t.room_kind = 'direct' OR mb.role IN ('owner', 'admin')) AS may_pin
    FROM target AS t
    INNER JOIN membership AS mb ON t.room_id = mb.room_id
),

existing AS (
    SELECT
        p.pinned_by,
        p.pinned_at
    FROM message_pins AS p
    INNER JOIN target AS t ON p.room_id = t.room_id AND p.message_id = t.id
),

pinned AS (
    INSERT INTO message_pins (room_id, message_id, pinned_by)
    SELECT
        a.room_id,
        a.id,
        :user_id
    FROM allowed AS a
    WHERE a.may_pin AND NOT a.is_deleted AND NOT a.is_stale
    ON CONFLICT (room_id, message_id) DO NOTHING
    RETURNING room_id, message_id, pinned_by, pinned_at
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM pinned AS p
    WHERE r.id = p.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        p.room_id,
        b.last_event_seq,
        'message.pinned' AS event_type,
        p.pinned_by,
        jsonb_build_object(
            'message_id', p.message_id,
            'seq', t.seq,
            'pinned_by', p.pinned_by,
            'pinned_at', p.pinned_at
        ) AS payload
    FROM pinned AS p
    INNER JOIN bumped AS b ON p.room_id = b.id
    CROSS JOIN target AS t
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    t.room_id,
    t.id AS message_id,
    t.is_deleted,
    t.is_stale,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at,
    a.room_id IS NOT NULL AS is_member,
    coalesce(a.may_pin, FALSE) AS may_pin,
    p.room_id IS NOT NULL AS changed,
    CASE WHEN a.may_pin THEN coalesce(p.pinned_by, e.pinned_by) END AS pinned_by,
    CASE WHEN a.may_pin THEN coalesce(p.pinned_at, e.pinned_at) END AS pinned_at
FROM target AS t
LEFT JOIN allowed AS a ON TRUE
LEFT JOIN existing AS e ON TRUE
LEFT JOIN pinned AS p ON TRUE
LEFT JOIN logged AS l ON TRUE;

-- name: unpin_message(message_id, user_id)^
-- One row when the message exists (nothing otherwise): is_member, may_pin, is_deleted,
-- is_stale (nothing written: run again under the room lock), whether a pin was removed
-- (FALSE: the message was not pinned, or it was refused), and the message.unpinned log
-- entry (event_* columns; payload: message_id, seq, unpinned_by). A deleted message's pin
-- may be removed.
WITH locked_room AS (
    SELECT
        r.id,
        r.kind,
        r.last_event_seq
    FROM messages AS msg
    INNER JOIN rooms AS r ON msg.room_id = r.id
    WHERE msg.id = :message_id
    FOR NO KEY UPDATE OF r
),

target AS (
    SELECT
        m.room_id,
        m.id,
        m.seq,
        lr.kind AS room_kind,
        m.deleted_at IS NOT NULL AS is_deleted,
        seen.last_event_seq <> lr.last_event_seq AS is_stale
    FROM locked_room AS lr
    INNER JOIN rooms AS seen ON lr.id = seen.id
    INNER JOIN messages AS m ON lr.id = m.room_id
    WHERE m.id = :message_id
),

membership AS (
    SELECT
        ru.room_id,
        ru.role
    FROM room_users AS ru
    INNER JOIN target AS t ON ru.room_id = t.room_id
    WHERE ru.user_id = :user_id
    FOR KEY SHARE OF ru
),

allowed AS (
    SELECT
        t.room_id,
        t.id,
        t.seq,
        t.is_stale,
        (t.room_kind = 'direct' OR mb.role IN ('owner', 'admin')) AS may_pin
    FROM target AS t
    INNER JOIN membership AS mb ON t.room_id = mb.room_id
),

unpinned AS (
    DELETE FROM message_pins AS p
    USING allowed AS a
    WHERE
        p.room_id = a.room_id
        AND p.message_id = a.id
        AND a.may_pin
        AND NOT a.is_stale
    RETURNING p.room_id, p.message_id
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM unpinned AS u
    WHERE r.id = u.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        u.room_id,
        b.last_event_seq,
        'message.unpinned' AS event_type,
        :user_id::uuid AS actor_id,
        jsonb_build_object(
            'message_id', u.message_id,
            'seq', a.seq,
            'unpinned_by', :user_id::uuid
        ) AS payload
    FROM unpinned AS u
    INNER JOIN bumped AS b ON u.room_id = b.id
    CROSS JOIN allowed AS a
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    t.room_id,
    t.id AS message_id,
    t.is_deleted,
    t.is_stale,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at,
    a.room_id IS NOT NULL AS is_member,
    coalesce(a.may_pin, FALSE) AS may_pin,
    u.room_id IS NOT NULL AS changed
FROM target AS t
LEFT JOIN allowed AS a ON TRUE
LEFT JOIN unpinned AS u ON TRUE
LEFT JOIN logged AS l ON TRUE;

-- name: room_pins(room_id, user_id, before_at, before_message_id, limit)
-- Up to limit of the room's pins older than the cursor (before_at, before_message_id),
-- newest first, each with the pinned message as a normal read returns it (a deleted one
-- without content or attachment), pinned_by and pinned_at; each row also carries whether
-- the user is a member. No rows: no such room. One row with a NULL id: a non-member, or no
-- pins past the cursor. Walks message_pins_room_pinned_at_idx backward from the cursor.
SELECT
    p.id,
    p.room_id,
    p.seq,
    p.sender_id,
    p.kind,
    p.content,
    p.attachment,
    p.client_id,
    p.created_at,
    p.edited_at,
    p.edit_count,
    p.deleted_at,
    p.reply_to,
    p.thread_root_id,
    p.thread_seq,
    p.shown_in_room,
    p.mentions_room,
    p.mentioned_ids,
    p.pinned_by,
    p.pinned_at,
    ru.user_id IS NOT NULL AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        m.id,
        m.room_id,
        m.seq,
        m.sender_id,
        m.kind,
        m.client_id,
        m.created_at,
        m.edited_at,
        m.edit_count,
        m.deleted_at,
        m.thread_root_id,
        m.thread_seq,
        m.shown_in_room,
        m.mentions_room,
        mp.pinned_by,
        mp.pinned_at,
        CASE WHEN m.deleted_at IS NULL THEN m.mentioned_ids ELSE '{}' END AS mentioned_ids,
        CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
        CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment,
        CASE
            WHEN m.deleted_at IS NULL THEN quoted_preview(m.room_id, m.reply_to_id)
        END AS reply_to
    FROM message_pins AS mp
    INNER JOIN messages AS m ON mp.room_id = m.room_id AND mp.message_id = m.id
    -- Keyed on the membership row: a non-member's NULL room_id matches no pin.
    WHERE
        mp.room_id = ru.room_id
        AND (mp.pinned_at, mp.message_id)
        < (:before_at::timestamptz, :before_message_id::uuid)
    ORDER BY mp.pinned_at DESC, mp.message_id DESC
    LIMIT :limit
) AS p ON TRUE
WHERE r.id = :room_id
ORDER BY p.pinned_at DESC, p.id DESC;
