-- migrate:up transaction:false
-- Indexes:
--   messages_thread_seq_key: a thread's replies in order (thread pages walk it from a
--   cursor, so their cost does not grow with the thread's length); unique, so no two replies
--   of a thread share a thread_seq; and the foreign key messages_thread_root_fkey (a root's
--   replies without a scan). Partial: most messages are in no thread.
--
-- CONCURRENTLY builds the index while the table keeps taking reads and writes; see
-- 20261127120200_index_message_replies.sql for why this section holds this one statement
-- and how to apply it (`chatstore migrate`: lock_timeout 5s, no statement timeout).
-- If it fails, PostgreSQL keeps an INVALID index of this name and dbmate does not record
-- the migration. Drop that index, then migrate again:
--   DROP INDEX CONCURRENTLY IF EXISTS messages_thread_seq_key;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.

CREATE UNIQUE INDEX CONCURRENTLY messages_thread_seq_key
ON messages (room_id, thread_root_id, thread_seq)
WHERE thread_root_id IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS messages_thread_seq_key;
