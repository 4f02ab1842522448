-- migrate:up transaction:false
-- Indexes:
--   rooms_public_name_trgm_idx: substring search of public room names (sql/rooms.sql
--   search_public_rooms, lower(name) LIKE '%term%'), which no btree can serve: the
--   trigrams of the term find the matching rooms without reading every public room. Partial
--   like rooms_public_name_idx: only public rooms are ever searched. A term of fewer than
--   three characters has no trigram to look up; the planner then walks
--   rooms_public_name_idx in order instead, filtering, which stops after a page of matches.
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
--   DROP INDEX CONCURRENTLY IF EXISTS rooms_public_name_trgm_idx;
-- Invalid indexes: SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.
--
-- gin_trgm_ops comes from pg_trgm (20261127110200_create_pg_trgm_extension). The expression
-- and the predicate must stay the ones search_public_rooms uses.

CREATE INDEX CONCURRENTLY rooms_public_name_trgm_idx
ON rooms USING gin (lower(name) gin_trgm_ops) WHERE kind = 'public';

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS rooms_public_name_trgm_idx;
