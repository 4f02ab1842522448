-- Catalog checks a DBA can run against any migrated chatstore database.
-- The test suite runs them too, so a future migration cannot quietly break these rules.

-- name: unindexed_foreign_keys()
-- Foreign keys whose columns are not the leading columns of any index on their table
-- (any column order). Deleting a referenced row would scan the whole table for each one.
SELECT
    c.conrelid::regclass::text AS table_name,
    c.conname AS constraint_name
FROM pg_catalog.pg_constraint AS c
WHERE
    c.contype = 'f'
    AND c.connamespace = 'public'::regnamespace
    AND NOT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_index AS i
        WHERE
            i.indrelid = c.conrelid
            AND (
                SELECT array_agg(k.attnum ORDER BY k.attnum)
                FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, position)
                WHERE k.position <= cardinality(c.conkey)
            ) = (
                SELECT array_agg(f.attnum ORDER BY f.attnum)
                FROM unnest(c.conkey) AS f (attnum)
            )
    )
ORDER BY table_name, constraint_name;

-- name: foreign_key_rules()
-- Every foreign key with its ON DELETE rule: a (no action), c (cascade), n (set null).
SELECT
    c.conrelid::regclass::text AS table_name,
    c.conname AS constraint_name,
    c.confrelid::regclass::text AS referenced_table,
    c.confdeltype::text AS on_delete
FROM pg_catalog.pg_constraint AS c
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
ORDER BY table_name, constraint_name;

-- name: public_tables()
-- The tables in the public schema, dbmate's own bookkeeping table included.
SELECT c.relname AS table_name
FROM pg_catalog.pg_class AS c
WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
ORDER BY table_name;
