-- What the guardrails ask PostgreSQL's catalog (chatstore.guardrails.plans).

-- name: large_tables(min_rows)
-- The tables, outside PostgreSQL's own schemas, holding more than min_rows rows by the
-- planner's statistics (pg_class.reltuples) or the activity counters (n_live_tup),
-- largest first, with that row count.
SELECT
    c.relname AS table_name,
    greatest(c.reltuples, coalesce(s.n_live_tup, 0))::bigint AS row_count
FROM pg_catalog.pg_class AS c
INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
LEFT JOIN pg_catalog.pg_stat_user_tables AS s ON c.oid = s.relid
WHERE
    c.relkind IN ('r', 'p', 'm')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND NOT starts_with(n.nspname, 'pg_toast')
    AND greatest(c.reltuples, coalesce(s.n_live_tup, 0)) > :min_rows
ORDER BY row_count DESC, table_name ASC;
