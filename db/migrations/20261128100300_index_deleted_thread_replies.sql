-- migrate:up transaction:false
-- Indexes:
--   messages_thread_deleted_idx: unread reply counts subtract a thread's deleted replies
--   after the follower's marker, as room counts do with messages_deleted_room_seq_idx.
--   Partial: deleted thread replies are rare, so it stays tiny.
--
-- CONCURRENTLY builds the index while the table keeps taking reads and writes; see
-- 20261127120200_index_message_replies.sql for why this section holds this one statement
-- and how to apply it (`chatstore migrate`: lock_timeout 5s, no statement timeout).
-- If it fails, PostgreSQL keeps an INVALID index of this name and dbmate does not record
-- the migration. Drop that index, then migrate again:
--   DROP INDEX CONCURRENTLY IF EXISTS messages_thread_deleted_idx;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.

CREATE INDEX CONCURRENTLY messages_thread_deleted_idx ON messages (thread_root_id, thread_seq)
WHERE thread_root_id IS NOT NULL AND deleted_at IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS messages_thread_deleted_idx;
