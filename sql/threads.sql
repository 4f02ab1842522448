-- Threads (chatstore.repositories.threads): a thread's pages, following and unfollowing,
-- a follower's read marker, and a user's followed threads. Replies are sent by
-- sending.sql (CreateMessage.thread_root_id); what a thread holds is in the migration
-- 20261128100000.
--
-- Every read finds the root by its id (messages' primary key) and keys everything else on
-- the root's room, and masks a deleted message as every read in messages.sql does.

-- name: thread_page(root_id, user_id, before_thread_seq, after_thread_seq, limit)
-- The root (is_root TRUE) and its replies in one closed range of thread_seq: with
-- after_thread_seq NULL, the `limit` replies below before_thread_seq (history: the newest
-- when it is above the thread's last); otherwise the `limit` replies after
-- after_thread_seq (catch-up). Every row carries is_member and the thread's
-- last_thread_seq, so the caller knows what lies beyond. No rows: no such message. A root
-- row only: a non-member, no replies in range, or a message that is a thread reply
-- itself (its thread_root_id says so). thread_seq is gap-free per thread (replies are
-- only soft-deleted), so the range holds at most `limit` replies, read on
-- messages_thread_seq_key: the cost does not grow with the thread's length.
WITH root AS (
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
        m.reply_to_id,
        m.thread_root_id,
        m.thread_seq,
        m.shown_in_room,
        m.mentions_room,
        m.content,
        m.attachment,
        m.mentioned_ids,
        m.has_reactions,
        m.has_thread,
        ru.user_id AS member_id,
        coalesce(t.last_thread_seq, 0) AS last_thread_seq
    FROM messages AS m
    LEFT JOIN room_users AS ru
        ON m.room_id = ru.room_id AND ru.user_id = :user_id
    LEFT JOIN threads AS t
        ON m.room_id = t.room_id AND m.id = t.root_id
    WHERE m.id = :root_id
),

replies AS (
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
        msg.reply_to_id,
        msg.thread_root_id,
        msg.thread_seq,
        msg.shown_in_room,
        msg.mentions_room,
        msg.content,
        msg.attachment,
        msg.mentioned_ids,
        msg.has_reactions,
        msg.has_thread,
        r.member_id,
        r.last_thread_seq
    FROM root AS r
    -- Keyed on the membership: a non-member's NULL member_id reads no reply.
    INNER JOIN messages AS msg
        ON
            r.room_id = msg.room_id
            AND r.id = msg.thread_root_id
            AND r.member_id IS NOT NULL
    WHERE
        msg.thread_seq > coalesce(
            :after_thread_seq::bigint,
            least(:before_thread_seq::bigint, r.last_thread_seq + 1) - :limit - 1
        )
        AND msg.thread_seq < least(
            :before_thread_seq::bigint,
            :after_thread_seq::bigint + :limit + 1,
            r.last_thread_seq + 1
        )
),

shown AS (
    SELECT
        TRUE AS is_root,
        r.*
    FROM root AS r
    UNION ALL
    SELECT
        FALSE AS is_root,
        rp.*
    FROM replies AS rp
)

SELECT
    s.is_root,
    s.id,
    s.room_id,
    s.seq,
    s.sender_id,
    s.kind,
    s.client_id,
    s.created_at,
    s.edited_at,
    s.edit_count,
    s.deleted_at,
    s.thread_root_id,
    s.thread_seq,
    s.shown_in_room,
    s.mentions_room,
    s.last_thread_seq,
    md.reactions,
    md.thread,
    s.member_id IS NOT NULL AS is_member,
    CASE
        WHEN s.deleted_at IS NULL AND s.member_id IS NOT NULL THEN s.content
    END AS content,  -- noqa: RF04
    CASE
        WHEN s.deleted_at IS NULL AND s.member_id IS NOT NULL THEN s.attachment
    END AS attachment,
    CASE
        WHEN s.deleted_at IS NULL AND s.member_id IS NOT NULL THEN s.mentioned_ids ELSE '{}'
    END AS mentioned_ids,
    CASE
        WHEN
            s.deleted_at IS NULL AND s.member_id IS NOT NULL
            THEN quoted_preview(s.room_id, s.reply_to_id)
    END AS reply_to
FROM shown AS s
-- Looked up only when the message's flag is set (migration 20261128100800).
LEFT JOIN LATERAL message_decorations(
    s.room_id,
    s.id,
    s.member_id,
    s.has_thread AND s.is_root AND s.member_id IS NOT NULL,
    s.has_reactions AND s.deleted_at IS NULL AND s.member_id IS NOT NULL
) AS md ON TRUE
ORDER BY s.is_root DESC, s.thread_seq ASC;

-- name: follow_thread(root_id, user_id)^
-- Makes a member follow the thread of a root (creating its threads row if nobody replied
-- or followed yet), read up to its latest reply: following starts now. Appends
-- thread.followed (root_id, user_id) when the user did not follow yet; writes nothing
-- otherwise (changed FALSE). Run after messages.lock_message on the root (which holds the
-- room lock, so this statement's snapshot already sees every reply committed before it).
WITH root AS (
    SELECT
        m.id,
        m.room_id
    FROM messages AS m
    WHERE m.id = :root_id AND m.thread_root_id IS NULL
),

thread AS (
    INSERT INTO threads AS t (room_id, root_id)
    SELECT
        r.room_id,
        r.id
    FROM root AS r
    ON CONFLICT (room_id, root_id) DO UPDATE
        SET last_activity_at = t.last_activity_at
    RETURNING t.room_id, t.root_id, t.last_thread_seq
),

followed AS (
    INSERT INTO thread_follows (room_id, root_id, user_id, last_read_thread_seq)
    SELECT
        th.room_id,
        th.root_id,
        :user_id::uuid AS follower_id,
        th.last_thread_seq
    FROM thread AS th
    ON CONFLICT (room_id, root_id, user_id) DO NOTHING
    RETURNING room_id, root_id, user_id
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM followed AS f
    WHERE r.id = f.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        f.room_id,
        b.last_event_seq,
        'thread.followed' AS event_type,
        f.user_id,
        jsonb_build_object('root_id', f.root_id, 'user_id', f.user_id) AS payload
    FROM followed AS f
    INNER JOIN bumped AS b ON f.room_id = b.id
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    r.id AS root_id,
    r.room_id,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at,
    f.user_id IS NOT NULL AS changed
FROM root AS r
LEFT JOIN followed AS f ON TRUE
LEFT JOIN logged AS l ON TRUE;

-- name: unfollow_thread(root_id, user_id)^
-- Ends a user's follow of a thread (its read marker goes with it: following again starts
-- at the thread's latest reply) and appends thread.unfollowed (root_id, user_id); writes
-- nothing when the user did not follow it (changed FALSE). Run after
-- messages.lock_message on the root.
WITH root AS (
    SELECT
        m.id,
        m.room_id
    FROM messages AS m
    WHERE m.id = :root_id
),

unfollowed AS (
    DELETE FROM thread_follows AS f
    USING root AS r
    WHERE f.room_id = r.room_id AND f.root_id = r.id AND f.user_id = :user_id
    RETURNING f.room_id, f.root_id, f.user_id
),

bumped AS (
    UPDATE rooms AS r
    SET last_event_seq = r.last_event_seq + 1
    FROM unfollowed AS u
    WHERE r.id = u.room_id
    RETURNING r.id, r.last_event_seq
),

logged AS (
    INSERT INTO room_events (room_id, event_seq, type, actor_id, payload)
    SELECT
        u.room_id,
        b.last_event_seq,
        'thread.unfollowed' AS event_type,
        u.user_id,
        jsonb_build_object('root_id', u.root_id, 'user_id', u.user_id) AS payload
    FROM unfollowed AS u
    INNER JOIN bumped AS b ON u.room_id = b.id
    RETURNING room_id, event_seq, type, actor_id, payload, created_at
)

SELECT
    r.id AS root_id,
    r.room_id,
    l.room_id AS event_room_id,
    l.event_seq,
    l.type AS event_type,
    l.actor_id AS event_actor_id,
    l.payload AS event_payload,
    l.created_at AS event_created_at,
    u.user_id IS NOT NULL AS changed
FROM root AS r
LEFT JOIN unfollowed AS u ON TRUE
LEFT JOIN logged AS l ON TRUE;

-- name: mark_thread_read(root_id, user_id, thread_seq)^
-- Moves a follower's read marker in a thread forward to thread_seq, clamped to the
-- thread's last_thread_seq, never backward; nothing when the message does not exist, else
-- one row: is_member, following (a user who does not follow has no marker: nothing
-- written), the marker after this statement, whether it moved, and the exact unread
-- replies and mentions after it. The follow row is locked first (the only lock taken), so
-- a concurrent move is waited for and read, never undone.
WITH root AS (
    SELECT
        m.id,
        m.room_id,
        m.seq,
        coalesce(t.last_thread_seq, 0) AS last_thread_seq,
        least(:thread_seq::bigint, coalesce(t.last_thread_seq, 0)) AS target_seq,
        ru.user_id IS NOT NULL AS is_member
    FROM messages AS m
    LEFT JOIN threads AS t ON m.room_id = t.room_id AND m.id = t.root_id
    LEFT JOIN room_users AS ru ON m.room_id = ru.room_id AND ru.user_id = :user_id
    WHERE m.id = :root_id
),

follow AS (
    SELECT
        f.room_id,
        f.last_read_thread_seq
    FROM thread_follows AS f
    INNER JOIN root AS r ON f.room_id = r.room_id AND f.root_id = r.id
    WHERE f.user_id = :user_id
    FOR NO KEY UPDATE OF f
),

moved AS (
    UPDATE thread_follows AS f
    SET last_read_thread_seq = r.target_seq
    FROM root AS r, follow AS fl
    WHERE
        f.room_id = r.room_id
        AND f.root_id = r.id
        AND f.user_id = :user_id
        AND fl.last_read_thread_seq < r.target_seq
    RETURNING f.last_read_thread_seq
),

marker AS (
    SELECT
        r.id AS root_id,
        r.room_id,
        r.seq AS root_seq,
        r.last_thread_seq,
        r.is_member,
        fl.room_id IS NOT NULL AS is_following,
        mv.last_read_thread_seq IS NOT NULL AS moved,
        coalesce(mv.last_read_thread_seq, fl.last_read_thread_seq, 0) AS last_read_thread_seq
    FROM root AS r
    LEFT JOIN follow AS fl ON TRUE
    LEFT JOIN moved AS mv ON TRUE
)

SELECT
    mk.root_id,
    mk.room_id,
    mk.is_member,
    mk.is_following AS following,  -- noqa: RF04
    mk.moved,
    mk.last_read_thread_seq,
    CASE
        WHEN mk.is_following
            THEN unread_replies(mk.root_id, mk.last_thread_seq, mk.last_read_thread_seq)
        ELSE 0
    END AS unread_replies,
    CASE
        WHEN mk.is_following
            THEN
                unread_thread_mentions(
                    mk.room_id, mk.root_id, mk.root_seq, :user_id, mk.last_read_thread_seq
                )
        ELSE 0
    END AS unread_mentions
FROM marker AS mk;

-- name: followed_threads(user_id, before_at, before_root_id, limit)
-- The threads a user follows (in rooms they are a member of: leaving a room ends its
-- follows), newest activity first, keyset on (last_activity_at, root_id) below the
-- cursor: each root's preview, the thread's summary, the follower's marker and exact
-- unread replies and mentions. Reads every follow of the user (thread_follows_user_idx)
-- and sorts them, then counts for the page's threads only: the cost grows with how many
-- threads the user follows, not with the threads' or rooms' sizes.
SELECT
    f.room_id,
    f.root_id,
    f.last_read_thread_seq,
    t.reply_count,
    t.last_thread_seq,
    t.last_reply_at,
    t.participant_ids,
    t.last_activity_at,
    message_preview(m) AS root,
    unread_replies(f.root_id, t.last_thread_seq, f.last_read_thread_seq) AS unread_replies,
    unread_thread_mentions(
        f.room_id, f.root_id, m.seq, f.user_id, f.last_read_thread_seq
    ) AS unread_mentions
FROM thread_follows AS f
INNER JOIN threads AS t ON f.room_id = t.room_id AND f.root_id = t.root_id
INNER JOIN messages AS m ON f.room_id = m.room_id AND f.root_id = m.id
WHERE
    f.user_id = :user_id
    AND (t.last_activity_at, t.root_id) < (:before_at::timestamptz, :before_root_id::uuid)
ORDER BY t.last_activity_at DESC, t.root_id DESC
LIMIT :limit;
