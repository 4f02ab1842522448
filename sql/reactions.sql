-- Reactions to messages (message_reactions): adding and removing one, the counts per key of
-- one message or of many, and who reacted with a key.
--
-- Adding and removing append reaction.added / reaction.removed to the room's change log in
-- the same statement, taking the room row lock first (the order every log write uses, see
-- sql/events.sql append_event) and bumping rooms.last_event_seq, so event_seq stays
-- gap-free per room. A statement's snapshot is taken before it waits for that lock: when
-- another change to the room committed meanwhile (the locked row's last_event_seq is ahead
-- of the snapshot's), the reactions it would count may be out of date, so it writes nothing
-- and says is_stale; the caller runs it again after taking the room lock in a transaction
-- (messages.lock_message), where its snapshot is current. Reads start from the message and
-- the reader's membership row and join the reactions on that row, so a non-member gets the
-- message row with no reactions: "no such message", "not a member" and "no reactions" are
-- told apart in one round trip.

-- name: add_reaction(message_id, user_id, reaction)^
-- One row when the message exists (nothing otherwise): is_member, is_deleted, is_stale
-- (nothing written: run again under the room lock), whether a reaction was added (FALSE:
-- the user already had it, or it was refused), how many users now have this reaction on
-- the message, and the reaction.added log entry (event_* columns; payload: message_id,
-- user_id, reaction, count). Only a member adds, and not to a deleted message.
WITH locked_room AS (
    SELECT
        r.id,
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
    SELECT ru.room_id
    FROM room_users AS ru
    INNER JOIN target AS t ON ru.room_id = t.room_id
    WHERE ru.user_id = :user_id
    FOR KEY SHARE OF ru
),

counted AS (
    SELECT count(mr.user_id) AS reaction_count
    FROM target AS t
    LEFT JOIN message_reactions AS mr
        ON
            t.room_id = mr.room_id
            AND t.id = mr.message_id
            AND mr.reaction = :reaction
),

added AS (
    INSERT INTO message_reactions (room_id, message_id, user_id, reaction)
    SELECT
        t.room_id,
        t.id,
        :user_id,
        :reaction
    FROM target AS t
    INNER JOIN membership AS mb ON t.room_id = mb.room_id
    WHERE NOT t.is_deleted AND NOT t.is_stale
    ON CONFLICT (room_id, message_id, reaction, user_id) DO NOTHING
    RETURNING room_id, message_id, user_id, reaction
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM added AS a
    WHERE r.id = a.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        a.room_id,
        b.last_event_seq,
        'reaction.added' AS event_type,
        a.user_id,
        jsonb_build_object(
            'message_id', a.message_id,
            'user_id', a.user_id,
            'reaction', a.reaction,
            'count', c.reaction_count + 1
        ) AS payload
    FROM added AS a
    INNER JOIN bumped AS b ON a.room_id = b.id
    CROSS JOIN counted AS c
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
    mb.room_id IS NOT NULL AS is_member,
    a.room_id IS NOT NULL AS changed,
    c.reaction_count + (CASE WHEN a.room_id IS NULL THEN 0 ELSE 1 END) AS reaction_count
FROM target AS t
CROSS JOIN counted AS c
LEFT JOIN membership AS mb ON TRUE
LEFT JOIN added AS a ON TRUE
LEFT JOIN logged AS l ON TRUE;

-- name: remove_reaction(message_id, user_id, reaction)^
-- One row when the message exists (nothing otherwise): is_member, is_deleted, is_stale
-- (nothing written: run again under the room lock), whether a reaction was removed (FALSE:
-- the user did not have it, or it was refused), how many users still have this reaction
-- on the message, and the reaction.removed log entry (event_* columns; payload: message_id,
-- user_id, reaction, count). Only a member removes; a deleted message's reactions may go.
WITH locked_room AS (
    SELECT
        r.id,
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
        m.deleted_at IS NOT NULL AS is_deleted,
        seen.last_event_seq <> lr.last_event_seq AS is_stale
    FROM locked_room AS lr
    INNER JOIN rooms AS seen ON lr.id = seen.id
    INNER JOIN messages AS m ON lr.id = m.room_id
    WHERE m.id = :message_id
),

membership AS (
    SELECT ru.room_id
    FROM room_users AS ru
    INNER JOIN target AS t ON ru.room_id = t.room_id
    WHERE ru.user_id = :user_id
    FOR KEY SHARE OF ru
),

counted AS (
    SELECT count(mr.user_id) AS reaction_count
    FROM target AS t
    LEFT JOIN message_reactions AS mr
        ON
            t.room_id = mr.room_id
            AND t.id = mr.message_id
            AND mr.reaction = :reaction
),

removed AS (
    DELETE FROM message_reactions AS mr
    USING target AS t, membership AS mb
    WHERE
        mr.room_id = t.room_id
        AND mr.message_id = t.id
        AND mr.reaction = :reaction
        AND mr.user_id = :user_id
        AND mb.room_id = t.room_id
        AND NOT t.is_stale
    RETURNING mr.room_id, mr.message_id, mr.user_id, mr.reaction
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
        'reaction.removed' AS event_type,
        d.user_id,
        jsonb_build_object(
            'message_id', d.message_id,
            'user_id', d.user_id,
            'reaction', d.reaction,
            'count', c.reaction_count - 1
        ) AS payload
    FROM removed AS d
    INNER JOIN bumped AS b ON d.room_id = b.id
    CROSS JOIN counted AS c
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
    mb.room_id IS NOT NULL AS is_member,
    d.room_id IS NOT NULL AS changed,
    c.reaction_count - (CASE WHEN d.room_id IS NULL THEN 0 ELSE 1 END) AS reaction_count
FROM target AS t
CROSS JOIN counted AS c
LEFT JOIN membership AS mb ON TRUE
LEFT JOIN removed AS d ON TRUE
LEFT JOIN logged AS l ON TRUE;

-- name: message_reactions(message_id, user_id)
-- The reactions to one message, one row per key in the order the keys were first used:
-- how many users reacted with it and whether the reader is one of them. Each row also
-- carries whether the reader is a member. No rows: no such message. One row with a NULL
-- reaction: a non-member, or no reactions.
SELECT
    m.id AS message_id,
    c.reaction,
    c.reaction_count,
    c.reacted_by_me,
    ru.user_id IS NOT NULL AS is_member
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        mr.reaction,
        count(*) AS reaction_count,
        bool_or(mr.user_id = :user_id) AS reacted_by_me,
        min(mr.created_at) AS first_at
    FROM message_reactions AS mr
    -- Keyed on the membership row: a non-member's NULL room_id matches no reaction.
    WHERE mr.room_id = ru.room_id AND mr.message_id = m.id
    GROUP BY mr.reaction
) AS c ON TRUE
WHERE m.id = :message_id
ORDER BY c.first_at ASC, c.reaction ASC;

-- name: reaction_counts(message_ids, user_id)
-- For the messages among message_ids in rooms the user is a member of, one row per message
-- and reaction key: how many users reacted with it and whether the user is one of them,
-- ordered by message id, then by when each key was first used. Messages without reactions,
-- in other rooms, or that do not exist have no rows. Each message walks the primary key of
-- message_reactions from its (room_id, message_id), so the cost is the reactions counted.
SELECT
    mr.message_id,
    mr.reaction,
    count(*) AS reaction_count,
    bool_or(mr.user_id = :user_id) AS reacted_by_me
FROM messages AS m
INNER JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
INNER JOIN message_reactions AS mr
    ON m.room_id = mr.room_id AND m.id = mr.message_id
WHERE m.id = any(:message_ids::uuid[])
GROUP BY mr.message_id, mr.reaction
ORDER BY mr.message_id ASC, min(mr.created_at) ASC, mr.reaction ASC;

-- name: reactors(message_id, reaction, user_id, after_at, after_user_id, limit)
-- Who reacted to a message with one key, oldest first (user_id breaks ties), starting after
-- the cursor (after_at, after_user_id), at most limit of them, each with their username and
-- when they reacted; each row also carries whether the reader (user_id) is a member. No
-- rows: no such message. One row with a NULL reactor_id: a non-member, or nobody after the
-- cursor. Walks message_reactions_reactors_idx from the cursor, so a page deep in a popular
-- reaction costs what the first one does.
SELECT
    m.id AS message_id,
    x.reactor_id,
    x.username,
    x.reacted_at,
    ru.user_id IS NOT NULL AS is_member
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        mr.user_id AS reactor_id,
        u.username,
        mr.created_at AS reacted_at
    FROM message_reactions AS mr
    INNER JOIN users AS u ON mr.user_id = u.id
    -- Keyed on the membership row: a non-member's NULL room_id matches no reaction.
    WHERE
        mr.room_id = ru.room_id
        AND mr.message_id = m.id
        AND mr.reaction = :reaction
        AND (mr.created_at, mr.user_id) > (:after_at::timestamptz, :after_user_id::uuid)
    ORDER BY mr.created_at ASC, mr.user_id ASC
    LIMIT :limit
) AS x ON TRUE
WHERE m.id = :message_id
ORDER BY x.reacted_at ASC, x.reactor_id ASC;
