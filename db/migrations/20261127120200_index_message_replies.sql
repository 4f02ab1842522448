-- migrate:up transaction:false
-- Indexes:
--   messages_reply_to_idx: the foreign key messages_reply_to_fkey (deleting a quoted message,
--   or a room, must find the replies that quote it without a scan of the room), and the
--   replies to one message. Partial: most messages quote nothing, and are not in it.
--
-- CONCURRENTLY builds the index while the table keeps taking reads and writes. PostgreSQL
-- refuses it inside a transaction, hence `transaction:false`; and dbmate sends a section as
-- one string, which PostgreSQL runs as one implicit transaction when it holds more than one
-- statement. So this section holds this one statement and nothing else: no SET LOCAL (the
-- linter checks). The timeouts come from the connection instead: apply it with
-- `chatstore migrate` (dbmate on a URL from chatstore.migration_files.migration_url), which
-- sets lock_timeout = 5s and no statement timeout, since a build takes as long as the table
-- is big. The lock timeout also bounds the build's wait for transactions older than it.
--
-- If it fails (lock timeout, a duplicate in a UNIQUE index, a cancel), PostgreSQL keeps an
-- INVALID index of this name and dbmate does not record the migration. Drop that index,
-- then migrate again:
--   DROP INDEX CONCURRENTLY IF EXISTS messages_reply_to_idx;
-- Invalid indexes: SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.

CREATE INDEX CONCURRENTLY messages_reply_to_idx ON messages (room_id, reply_to_id)
WHERE reply_to_id IS NOT NULL;

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS messages_reply_to_idx;
