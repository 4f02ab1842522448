-- Messages: reading (keyset and offset pages) and locking one for a change. Sending is in
-- sending.sql, edits and soft deletes in editing.sql.
--
-- Every read masks a soft-deleted message's content and attachment with CASE, so deleted
-- text (or its mentions and reactions) never leaves the database through a normal read.
-- Room reads start from the room and the reader's membership row, and join the messages
-- on that row: a non-member gets the room row with no messages, so the caller can tell
-- "no such room", "not a member" and "no messages here" apart in one round trip.

-- name: lock_message(message_id, user_id)^
-- One message (deleted content masked) and the user's role in its room (NULL for a
-- non-member), or nothing when the message does not exist. Locks the message's room row,
-- then the message, until the transaction ends: edits and deletes append to the room's log
-- under the room lock, and taking it before the message's keeps the order senders and room
-- deletion use (room first, then its rows), so none of them can deadlock another.
WITH locked_room AS (
    SELECT
        r.id,
        r.kind
    FROM messages AS msg
    INNER JOIN rooms AS r ON msg.room_id = r.id
    WHERE msg.id = :message_id
    FOR NO KEY UPDATE OF r
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
    ru.role AS actor_role,
    lr.kind AS room_kind,
    CASE WHEN m.deleted_at IS NULL THEN m.content END AS content,  -- noqa: RF04
    CASE WHEN m.deleted_at IS NULL THEN m.attachment END AS attachment,
    CASE WHEN m.deleted_at IS NULL THEN m.mentioned_ids ELSE '{}' END AS mentioned_ids,
    CASE
        WHEN m.deleted_at IS NULL THEN quoted_preview(m.room_id, m.reply_to_id)
    END AS reply_to
-- The message is joined on the locked room, so its own lock is taken after the room's (a
-- room deleted meanwhile leaves no row: NotFound).
FROM locked_room AS lr
INNER JOIN messages AS m ON lr.id = m.room_id
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
WHERE m.id = :message_id
FOR NO KEY UPDATE OF m;

-- name: message_history(message_id, user_id)
-- A message's previous versions, oldest first, each row carrying whether the user is a
-- member and whether the message is deleted. No rows: no such message. One row with a
-- NULL revision: never edited, deleted (its history is content too), or a non-member.
SELECT
    rv.message_id,
    rv.revision,
    rv.content,
    rv.edited_by,
    rv.written_at,
    rv.replaced_at,
    ru.user_id IS NOT NULL AS is_member,
    m.deleted_at IS NOT NULL AS is_deleted
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
-- Keyed on the membership row (non-members get no revisions) and on not being deleted.
LEFT JOIN message_revisions AS rv
    ON
        ru.room_id = rv.room_id
        AND m.id = rv.message_id
        AND m.deleted_at IS NULL
WHERE m.id = :message_id
ORDER BY rv.revision ASC;

-- name: get_message(message_id, user_id)^
-- One message and whether the user is a member of its room (content and attachment only
-- for members, and never for a deleted message); nothing when the message does not exist.
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
    md.reactions,
    md.thread,
    CASE
        WHEN m.deleted_at IS NULL AND ru.user_id IS NOT NULL THEN m.content
    END AS content,  -- noqa: RF04
    CASE
        WHEN m.deleted_at IS NULL AND ru.user_id IS NOT NULL THEN m.attachment
    END AS attachment,
    CASE
        WHEN
            m.deleted_at IS NULL AND ru.user_id IS NOT NULL
            THEN quoted_preview(m.room_id, m.reply_to_id)
    END AS reply_to,
    CASE
        WHEN m.deleted_at IS NULL AND ru.user_id IS NOT NULL THEN m.mentioned_ids ELSE '{}'
    END AS mentioned_ids,
    ru.user_id IS NOT NULL AS is_member
FROM messages AS m
LEFT JOIN room_users AS ru
    ON m.room_id = ru.room_id AND ru.user_id = :user_id
-- Looked up only when the message's flag is set, as the pages do.
LEFT JOIN LATERAL message_decorations(
    m.room_id,
    m.id,
    ru.user_id,
    m.has_thread AND ru.user_id IS NOT NULL,
    m.has_reactions AND m.deleted_at IS NULL AND ru.user_id IS NOT NULL
) AS md ON TRUE
WHERE m.id = :message_id;

-- name: page_before(room_id, user_id, before_seq, limit, thread_replies)
-- Up to `limit` messages with seq < before_seq, newest first, each row also carrying the
-- room's last_seq and whether the user is a member. No rows: no such room. One row with a
-- NULL id: a non-member, or no messages in that range. Walks messages_room_seq_key
-- backward from before_seq, so the cost does not grow with depth.
SELECT
    r.last_seq AS room_last_seq,
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.content,
    m.attachment,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    m.reply_to,
    m.thread_root_id,
    m.thread_seq,
    m.shown_in_room,
    m.mentions_room,
    m.mentioned_ids,
    md.thread,
    md.reactions,
    ru.user_id IS NOT NULL AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        msg.id,
        msg.room_id,
        msg.seq,
        msg.sender_id,
        msg.kind,
        msg.client_id,
        msg.created_at,
        msg.edited_at,
        msg.edit_count,
        msg.deleted_at,
        msg.thread_root_id,
        msg.thread_seq,
        msg.shown_in_room,
        msg.mentions_room,
        msg.has_thread,
        -- A deleted message shows no reactions.
        msg.has_reactions AND msg.deleted_at IS NULL AS has_reactions,
        CASE WHEN msg.deleted_at IS NULL THEN msg.content END AS content,  -- noqa: RF04
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment,
        -- The quoted message's preview (quoted_preview: one index lookup, none when the
        -- message quotes nothing); a deleted message shows no quote either.
        CASE
            WHEN msg.deleted_at IS NULL THEN quoted_preview(msg.room_id, msg.reply_to_id)
        END AS reply_to,
        CASE WHEN msg.deleted_at IS NULL THEN msg.mentioned_ids ELSE '{}' END AS mentioned_ids
    FROM messages AS msg
    -- Keyed on the membership row: a non-member's NULL room_id matches no message.
    -- Without thread_replies, a reply that stays in its thread is skipped (read on the
    -- same index and left out, so such a page reads those replies too). With them, seqs
    -- are gap-free (see page_by_offset), so the page is exactly the closed range below
    -- its upper end: bounded so, the prepared statement keeps one generic plan (with
    -- only `LIMIT :limit`, whose size a generic plan cannot know, PostgreSQL estimated a
    -- generic plan twice as dear as a custom one and planned every call again).
    WHERE
        msg.room_id = ru.room_id
        AND msg.seq < :before_seq
        AND msg.seq >= CASE
            WHEN :thread_replies::boolean THEN least(:before_seq, r.last_seq + 1) - :limit
            ELSE 0
        END
        AND (:thread_replies::boolean OR msg.shown_in_room)
    ORDER BY msg.seq DESC
    LIMIT :limit
) AS m ON TRUE
-- A thread root's summary (one primary-key lookup) and a message's reactions (one range of
-- the reactions' primary key), each looked up only when the message's flag says there is
-- something to find (migration 20261128100800): a page of plain messages does no lookup.
-- NULL: no thread, no reactions.
LEFT JOIN LATERAL message_decorations(
    m.room_id, m.id, ru.user_id, m.has_thread, m.has_reactions
) AS md ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq DESC;

-- name: page_after(room_id, user_id, after_seq, limit, thread_replies)
-- Up to `limit` messages with seq > after_seq, oldest first (catch-up after a reconnect),
-- with the same extra columns and empty-result rows as page_before. Walks
-- messages_room_seq_key forward from after_seq, so the cost does not grow with depth.
SELECT
    r.last_seq AS room_last_seq,
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.content,
    m.attachment,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    m.reply_to,
    m.thread_root_id,
    m.thread_seq,
    m.shown_in_room,
    m.mentions_room,
    m.mentioned_ids,
    md.thread,
    md.reactions,
    ru.user_id IS NOT NULL AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        msg.id,
        msg.room_id,
        msg.seq,
        msg.sender_id,
        msg.kind,
        msg.client_id,
        msg.created_at,
        msg.edited_at,
        msg.edit_count,
        msg.deleted_at,
        msg.thread_root_id,
        msg.thread_seq,
        msg.shown_in_room,
        msg.mentions_room,
        msg.has_thread,
        -- A deleted message shows no reactions.
        msg.has_reactions AND msg.deleted_at IS NULL AS has_reactions,
        CASE WHEN msg.deleted_at IS NULL THEN msg.content END AS content,  -- noqa: RF04
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment,
        -- The quoted message's preview (quoted_preview: one index lookup, none when the
        -- message quotes nothing); a deleted message shows no quote either.
        CASE
            WHEN msg.deleted_at IS NULL THEN quoted_preview(msg.room_id, msg.reply_to_id)
        END AS reply_to,
        CASE WHEN msg.deleted_at IS NULL THEN msg.mentioned_ids ELSE '{}' END AS mentioned_ids
    FROM messages AS msg
    -- Keyed on the membership row: a non-member's NULL room_id matches no message. Seqs
    -- are gap-free (see page_by_offset), so the next `limit` messages are exactly the
    -- closed range below: whatever plan is picked, it reads no more than `limit` rows.
    -- Without thread_replies, a reply that stays in its thread is skipped, and the range
    -- is open above (the next `limit` shown messages may lie further on). The upper bound
    -- is one index condition whatever thread_replies is, so the prepared statement keeps
    -- one generic plan (an OR here made PostgreSQL plan every call again, about 1 ms).
    -- after_seq is cast: psycopg sends a small int as smallint, and smallint + smallint
    -- overflowed from seq 32,668 on.
    WHERE
        msg.room_id = ru.room_id
        AND msg.seq > :after_seq
        AND msg.seq <= CASE
            WHEN :thread_replies::boolean THEN :after_seq::bigint + :limit ELSE 9223372036854775807
        END
        AND (:thread_replies::boolean OR msg.shown_in_room)
    ORDER BY msg.seq ASC
    LIMIT :limit
) AS m ON TRUE
-- A thread root's summary (one primary-key lookup) and a message's reactions (one range of
-- the reactions' primary key), each looked up only when the message's flag says there is
-- something to find (migration 20261128100800): a page of plain messages does no lookup.
-- NULL: no thread, no reactions.
LEFT JOIN LATERAL message_decorations(
    m.room_id, m.id, ru.user_id, m.has_thread, m.has_reactions
) AS md ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq ASC;

-- name: page_by_offset(room_id, user_id, limit, offset)
-- The seed's offset pagination: up to `limit` messages newest first after skipping the
-- `offset` newest, with the same extra columns and empty-result rows as page_before.
-- A NULL user_id reads as the server itself, with no membership check.
-- Relies on a room's seqs being exactly 1..rooms.last_seq: sending takes each seq from
-- the room row's last_seq bump in the one statement that inserts the message, and
-- messages are only soft-deleted (rows go only with their room). So the message `offset`
-- places below the newest has seq last_seq - offset, and the page is the closed seq range
-- of the `limit` seqs from there down, read on messages_room_seq_key: no rows skipped, so
-- the cost does not grow with the offset (LIMIT/OFFSET read and threw away `offset` rows,
-- and in a big room the planner, estimating an average room, sorted all of them). Closed
-- at both ends, it holds at most `limit` rows whichever plan the planner picks. The one
-- statement reads last_seq and the messages from one snapshot, in which every seq up to
-- last_seq is visible. If seqs ever get holes, this query must go back to counting rows.
SELECT
    r.last_seq AS room_last_seq,
    m.id,
    m.room_id,
    m.seq,
    m.sender_id,
    m.kind,
    m.content,
    m.attachment,
    m.client_id,
    m.created_at,
    m.edited_at,
    m.edit_count,
    m.deleted_at,
    m.reply_to,
    m.thread_root_id,
    m.thread_seq,
    m.shown_in_room,
    m.mentions_room,
    m.mentioned_ids,
    md.thread,
    md.reactions,
    (ru.user_id IS NOT NULL OR :user_id::uuid IS NULL) AS is_member
FROM rooms AS r
LEFT JOIN room_users AS ru
    ON r.id = ru.room_id AND ru.user_id = :user_id
LEFT JOIN LATERAL (
    SELECT
        msg.id,
        msg.room_id,
        msg.seq,
        msg.sender_id,
        msg.kind,
        msg.client_id,
        msg.created_at,
        msg.edited_at,
        msg.edit_count,
        msg.deleted_at,
        msg.thread_root_id,
        msg.thread_seq,
        msg.shown_in_room,
        msg.mentions_room,
        msg.has_thread,
        -- A deleted message shows no reactions.
        msg.has_reactions AND msg.deleted_at IS NULL AS has_reactions,
        CASE WHEN msg.deleted_at IS NULL THEN msg.content END AS content,  -- noqa: RF04
        CASE WHEN msg.deleted_at IS NULL THEN msg.attachment END AS attachment,
        -- The quoted message's preview (quoted_preview: one index lookup, none when the
        -- message quotes nothing); a deleted message shows no quote either.
        CASE
            WHEN msg.deleted_at IS NULL THEN quoted_preview(msg.room_id, msg.reply_to_id)
        END AS reply_to,
        CASE WHEN msg.deleted_at IS NULL THEN msg.mentioned_ids ELSE '{}' END AS mentioned_ids
    FROM messages AS msg
    WHERE
        msg.room_id = r.id
        AND msg.seq <= r.last_seq - :offset
        AND msg.seq > r.last_seq - :offset - :limit
        AND (ru.user_id IS NOT NULL OR :user_id::uuid IS NULL)
    ORDER BY msg.seq DESC
    LIMIT :limit
) AS m ON TRUE
-- A thread root's summary (one primary-key lookup) and a message's reactions (one range of
-- the reactions' primary key), each looked up only when the message's flag says there is
-- something to find (migration 20261128100800): a page of plain messages does no lookup.
-- NULL: no thread, no reactions.
LEFT JOIN LATERAL message_decorations(
    m.room_id, m.id, ru.user_id, m.has_thread, m.has_reactions
) AS md ON TRUE
WHERE r.id = :room_id
ORDER BY m.seq DESC;
