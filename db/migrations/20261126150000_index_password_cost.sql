-- migrate:up transaction:false
-- Indexes:
--   users_password_cost_idx: the bcrypt cost of each stored hash (`$2b$12$...` -> 12), for
--   users.max_password_cost: every failed login costs the costliest hash in use, and max()
--   over this index reads one entry from its top instead of every row of users. Only a
--   change of password_hash maintains it (other updates of users stay HOT); its keys are a
--   handful of small numbers, which btree deduplication stores compactly.
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
--   DROP INDEX CONCURRENTLY IF EXISTS users_password_cost_idx;
-- Invalid indexes: SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;
-- No IF NOT EXISTS below, on purpose: it would skip the invalid index and record success.
--
-- The expression must stay the one sql/users.sql max_password_cost uses, or the planner
-- will not match them. The cast cannot fail: users_password_hash_is_bcrypt admits only two
-- digits there.

CREATE INDEX CONCURRENTLY users_password_cost_idx
ON users ((substring(password_hash FROM 5 FOR 2)::integer));

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS users_password_cost_idx;
