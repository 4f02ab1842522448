-- migrate:up transaction:false
-- Indexes:
--   rooms_public_name_idx: the public room directory (sql/rooms.sql public_rooms), public
--   rooms in name order, keyset-paged on (lower(name), id): a page walks the index from its
--   cursor and reads only its own rows, however many rooms there are. Partial: private and
--   direct rooms are never listed, so they need no entry (and direct rooms have no name).
--   A name search whose term is too short for trigrams walks it too, filtering as it goes.
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
--   DROP INDEX CONCURRENTLY IF EXISTS rooms_public_name_idx;
-- Invalid indexes: SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.
--
-- The expression and the predicate must stay the ones sql/rooms.sql public_rooms and
-- search_public_rooms use (lower(name), kind = 'public'), or the planner will not match
-- them.

CREATE INDEX CONCURRENTLY rooms_public_name_idx
ON rooms (lower(name), id) WHERE kind = 'public';

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS rooms_public_name_idx;
