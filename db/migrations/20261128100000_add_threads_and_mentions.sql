-- migrate:up
-- Threads and mentions.
--
-- A thread reply is a message with thread_root_id (a message of the same room that is not a
-- reply itself) and thread_seq, gap-free per thread in commit order, taken from
-- threads.last_thread_seq under the room row lock exactly as seq is taken from
-- rooms.last_seq. shown_in_room is FALSE for a reply that stays in its thread (Slack's
-- style: room pages may leave those out) and TRUE for every other message. A thread's
-- summary and its followers' read markers live in their own tables, so a reply costs O(1)
-- writes however many follow: unread reply counts are last_thread_seq less the follower's
-- marker less the deleted replies after it, as room unread counts are.
--
-- A message's mentions are kept twice: mentioned_ids on the message, which every read
-- returns without a lookup, and one message_mentions row per mentioned member, which
-- unread-mention counts and the mentions inbox read on an index. A mention of the whole
-- room is the flag mentions_room, never a row per member, so a mention costs O(number
-- mentioned) writes, never O(room size).
--
-- The constraints on messages are added NOT VALID (every existing row passes: the new
-- columns are NULL or their defaults) and validated by 20261128100100 without blocking
-- writes; the indexes on messages are built concurrently by 20261128100200 to 100500.
-- Indexes on the new tables:
--   threads primary key (room_id, root_id): a thread's summary (pages look it up per
--     root), the threads a user follows, and the foreign key to messages.
--   thread_follows primary key (room_id, root_id, user_id): one follow per user and
--     thread; a thread's followers; the (room_id, root_id) foreign key to threads.
--   thread_follows_user_idx (user_id, room_id): a user's followed threads, and the
--     (room_id, user_id) foreign key to room_users (leaving a room ends its follows).
--   message_mentions primary key (room_id, message_id, user_id): one row per mentioned
--     member, and the (room_id, message_id) foreign key to messages.
--   message_mentions_room_idx (user_id, room_id, seq): unread mentions in a room (the
--     mentions after the member's marker, an index-only range), and the (room_id, user_id)
--     foreign key to room_users.
--   message_mentions_thread_idx (user_id, thread_root_id, thread_seq): unread mentions in a
--     followed thread; partial, since most mentions are not in a thread.
--   message_mentions_inbox_idx (user_id, created_at, message_id): the mentions inbox,
--     newest first, keyset on (created_at, message_id).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE messages
ADD COLUMN thread_root_id uuid,
ADD COLUMN thread_seq bigint,
ADD COLUMN shown_in_room boolean NOT NULL DEFAULT TRUE,
ADD COLUMN mentioned_ids uuid [] NOT NULL DEFAULT '{}',
ADD COLUMN mentions_room boolean NOT NULL DEFAULT FALSE;

ALTER TABLE messages
ADD CONSTRAINT messages_thread_root_fkey
FOREIGN KEY (room_id, thread_root_id) REFERENCES messages (room_id, id)
ON DELETE CASCADE
NOT VALID;

ALTER TABLE messages
ADD CONSTRAINT messages_thread_shape CHECK (
    (thread_root_id IS NULL) = (thread_seq IS NULL)
    AND thread_seq > 0
    AND thread_root_id <> id
    AND (shown_in_room OR thread_root_id IS NOT NULL)
) NOT VALID;

ALTER TABLE messages
ADD CONSTRAINT messages_mentioned_ids_size CHECK (
    cardinality(mentioned_ids) <= 100
) NOT VALID;

COMMENT ON COLUMN messages.thread_root_id IS
'The root of the thread this message replies in (a message of the same room), or NULL.';
COMMENT ON COLUMN messages.thread_seq IS
'Position in its thread: gap-free per thread in commit order; NULL outside threads.';
COMMENT ON COLUMN messages.shown_in_room IS
'FALSE for a thread reply that stays in its thread; TRUE for every other message.';
COMMENT ON COLUMN messages.mentioned_ids IS
'The members this message mentions (also rows of message_mentions), as reads return them.';
COMMENT ON COLUMN messages.mentions_room IS
'The message mentions every member of the room (@room).';

CREATE TABLE threads (
    room_id uuid NOT NULL,
    root_id uuid NOT NULL,
    -- The thread_seq of the latest reply (0 before the first): replies take the next one.
    last_thread_seq bigint NOT NULL DEFAULT 0,
    -- Replies not deleted.
    reply_count integer NOT NULL DEFAULT 0,
    last_reply_at timestamptz,
    -- The latest repliers, most recent first, at most three (what a summary shows).
    participant_ids uuid [] NOT NULL DEFAULT '{}',
    -- When the thread last changed for its followers: its latest reply, or when it was
    -- first followed (the order of a user's followed threads).
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, root_id),
    FOREIGN KEY (room_id, root_id) REFERENCES messages (room_id, id) ON DELETE CASCADE,
    CONSTRAINT threads_counts_valid CHECK (
        last_thread_seq >= 0 AND reply_count BETWEEN 0 AND last_thread_seq
    ),
    CONSTRAINT threads_participants_few CHECK (cardinality(participant_ids) <= 3)
);

COMMENT ON TABLE threads IS
'One row per thread (its root message): the summary pages show and the head of its thread_seq.';

CREATE TABLE thread_follows (
    room_id uuid NOT NULL,
    root_id uuid NOT NULL,
    user_id uuid NOT NULL,
    -- The follower's read marker in the thread: replies with thread_seq <= it are read.
    -- Only ever moves forward.
    last_read_thread_seq bigint NOT NULL DEFAULT 0,
    followed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, root_id, user_id),
    FOREIGN KEY (room_id, root_id) REFERENCES threads (room_id, root_id) ON DELETE CASCADE,
    FOREIGN KEY (room_id, user_id) REFERENCES room_users (room_id, user_id) ON DELETE CASCADE,
    CONSTRAINT thread_follows_marker_not_negative CHECK (last_read_thread_seq >= 0)
);

CREATE INDEX thread_follows_user_idx ON thread_follows (user_id, room_id);

COMMENT ON TABLE thread_follows IS
'Who follows which thread, with each follower''s read marker in it.';

CREATE TABLE message_mentions (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    seq bigint NOT NULL,
    thread_root_id uuid,
    thread_seq bigint,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (room_id, message_id, user_id),
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE,
    FOREIGN KEY (room_id, user_id) REFERENCES room_users (room_id, user_id) ON DELETE CASCADE
);

CREATE INDEX message_mentions_room_idx ON message_mentions (user_id, room_id, seq);
CREATE INDEX message_mentions_thread_idx
ON message_mentions (user_id, thread_root_id, thread_seq)
WHERE thread_root_id IS NOT NULL;
CREATE INDEX message_mentions_inbox_idx ON message_mentions (user_id, created_at, message_id);

COMMENT ON TABLE message_mentions IS
'One row per member a message mentions (not deleted): unread-mention counts and the inbox.';

-- migrate:down
DROP TABLE message_mentions;
DROP TABLE thread_follows;
DROP TABLE threads;
ALTER TABLE messages DROP CONSTRAINT messages_mentioned_ids_size;
ALTER TABLE messages DROP CONSTRAINT messages_thread_shape;
ALTER TABLE messages DROP CONSTRAINT messages_thread_root_fkey;
ALTER TABLE messages DROP COLUMN mentions_room;
ALTER TABLE messages DROP COLUMN mentioned_ids;
ALTER TABLE messages DROP COLUMN shown_in_room;
ALTER TABLE messages DROP COLUMN thread_seq;
ALTER TABLE messages DROP COLUMN thread_root_id;
