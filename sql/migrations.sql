-- Which dbmate migrations the database has applied, for the version check at open.

-- name: applied_migrations()
-- Every version recorded in dbmate's schema_migrations table, oldest first (ask
-- migrations_table_exists first: on a database nothing was applied to, the table is missing).
SELECT sm.version
FROM schema_migrations AS sm
ORDER BY sm.version;

-- name: migrations_table_exists()^
-- One row: whether dbmate's schema_migrations table exists in the search path.
SELECT to_regclass('schema_migrations') IS NOT NULL AS present;
