-- migrate:up transaction:false
-- Indexes:
--   messages_room_mentions_idx: unread-mention counts add the messages that mention the
--   whole room (@room) after the member's marker, in the room or in a followed thread.
--   Partial: only @room messages not deleted, which only owners and admins send.
--
-- CONCURRENTLY builds the index while the table keeps taking reads and writes; see
-- 20261127120200_index_message_replies.sql for why this section holds this one statement
-- and how to apply it (`chatstore migrate`: lock_timeout 5s, no statement timeout).
-- If it fails, PostgreSQL keeps an INVALID index of this name and dbmate does not record
-- the migration. Drop that index, then migrate again:
--   DROP INDEX CONCURRENTLY IF EXISTS messages_room_mentions_idx;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.

CREATE INDEX CONCURRENTLY messages_room_mentions_idx ON messages (room_id, seq)
WHERE mentions_room AND deleted_at IS NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS messages_room_mentions_idx;
