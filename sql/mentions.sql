-- Mentions (chatstore.repositories.mentions): resolving `@username` tokens to a room's
-- members, and a user's mentions inbox.
--
-- What a message mentions is written by the send and by edits (sql/sending.sql,
-- sql/editing.sql): messages.mentioned_ids and one message_mentions row per mentioned
-- member, and the messages.mentions_room flag for @room. A soft delete removes the
-- message's rows; leaving a room removes the member's rows (foreign key to room_users, ON
-- DELETE CASCADE). Nothing here writes.

-- name: resolve_mentions(room_id, user_id, names)
-- One row per name of names, in their order, with the id of the room's member whose
-- username is that name in any letter case (member_id NULL: no such user, or not a member
-- now); every row also says whether the user asking is a member (is_member). No rows: no
-- such room. One row with a NULL name: a non-member (no name is looked up), or no names.
-- Each name is one probe of users_username_lower_key (lower() on both sides, as
-- users.get_user_by_username compares) and one of room_users_pkey.
SELECT
    r.id AS room_id,
    n.name,
    ru.user_id AS member_id,
    asker.user_id IS NOT NULL AS is_member
FROM rooms AS r
LEFT JOIN room_users AS asker
    ON r.id = asker.room_id AND asker.user_id = :user_id
-- Keyed on the asker's membership row: a non-member looks nobody up.
LEFT JOIN LATERAL (
    SELECT
        w.name,
        w.place
    FROM unnest(:names::text[]) WITH ORDINALITY AS w (name, place)
    WHERE asker.user_id IS NOT NULL
) AS n ON TRUE
LEFT JOIN users AS u ON lower(n.name) = lower(u.username)
LEFT JOIN room_users AS ru ON r.id = ru.room_id AND u.id = ru.user_id
WHERE r.id = :room_id
ORDER BY n.place;

-- name: mention_inbox(user_id, before_at, before_message_id, limit)
-- Up to limit of the user's mentions older than the cursor (before_at, before_message_id),
-- newest first (created_at, then message id), each the message as a normal read returns it
-- (masked when deleted) and by_name: TRUE when it names the user (a message_mentions row),
-- FALSE when it mentions the whole room of a room the user is a member of now, was sent
-- after they joined it (created_at >= room_users.joined_at), is not deleted, is not the
-- user's own and does not also name them (then it is listed once, by name).
-- Cost: the named half walks message_mentions_inbox_idx backward from the cursor, at most
-- limit entries. The @room half reads the user's memberships (room_users_user_id_idx) and,
-- per room, walks messages_room_mentions_time_idx (partial: @room messages not deleted)
-- backward from the cursor, at most limit entries each, checking message_mentions_pkey
-- for a named mention: O(rooms x limit) in the worst case, O(rooms) index probes when
-- @room messages are rare (they are: only owners and admins, or a direct room's users,
-- send them). The two halves are merged by a top-N sort of at most (rooms + 1) x limit
-- keys (it grows with the user's rooms, never with a room's history; each room's
-- index is in time order, but no index orders @room messages across rooms), and only then
-- are the page's messages read, by messages_room_id_id_key.
WITH named AS (
    SELECT
        mm.room_id,
        mm.message_id,
        mm.created_at,
        TRUE AS by_name
    FROM message_mentions AS mm
    WHERE
        mm.user_id = :user_id
        AND (mm.created_at, mm.message_id)
        < (:before_at::timestamptz, :before_message_id::uuid)
    ORDER BY mm.created_at DESC, mm.message_id DESC
    LIMIT :limit
),

whole_room AS (
    SELECT
        rm.room_id,
        rm.message_id,
        rm.created_at,
        FALSE AS by_name
    FROM room_users AS ru
    CROSS JOIN
        LATERAL (
            SELECT
                m.room_id,
                m.id AS message_id,
                m.created_at
            FROM messages AS m
            WHERE
                m.room_id = ru.room_id
                AND m.mentions_room
                AND m.deleted_at IS NULL
                AND (m.created_at, m.id)
                < (:before_at::timestamptz, :before_message_id::uuid)
                AND m.created_at >= ru.joined_at
                AND m.sender_id IS DISTINCT FROM ru.user_id
                AND NOT EXISTS (
                    SELECT 1
                    FROM message_mentions AS own
                    WHERE
                        own.room_id = m.room_id
                        AND own.message_id = m.id
                        AND own.user_id = ru.user_id
                )
            ORDER BY m.created_at DESC, m.id DESC
            LIMIT :limit
        ) AS rm
    WHERE ru.user_id = :user_id
),

page AS (
    SELECT
        b.room_id,
        b.message_id,
        b.created_at,
        b.by_name
    FROM (
        SELECT
            nm.room_id,
            nm.message_id,
            nm.created_at,
            nm.by_name
        FROM named AS nm
        UNION ALL
        SELECT
            wr.room_id,
            wr.message_id,
            wr.created_at,
            wr.by_name
        FROM whole_room AS wr
    ) AS b
    ORDER BY b.created_at DESC, b.message_id DESC
    LIMIT :limit
)

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
    p.by_name,
    CASE WHEN m.deleted_at IS NULL THEN m.mentioned_ids ELSE '{}' END AS mentioned_ids,
    CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
    CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment,
    CASE
        WHEN m.deleted_at IS NULL THEN quoted_preview(m.room_id, m.reply_to_id)
    END AS reply_to
FROM page AS p
INNER JOIN messages AS m ON p.room_id = m.room_id AND p.message_id = m.id
ORDER BY p.created_at DESC, p.message_id DESC;
