-- migrate:up transaction:false
-- Indexes:
--   room_topics_topic_idx: lets the application find rooms by topic without a scan.
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
--   DROP INDEX CONCURRENTLY IF EXISTS room_topics_topic_idx;
-- Invalid indexes: SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.

CREATE INDEX CONCURRENTLY room_topics_topic_idx ON room_topics (topic);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS room_topics_topic_idx;
