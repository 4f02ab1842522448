-- What a send wrote (bench/threads.py): read inside the send's transaction, before COMMIT.

-- name: rows_written()
-- The rows this transaction has inserted, updated and deleted so far, per table it wrote
-- (pg_stat_xact_user_tables: the backend's own counts, triggers' writes included).
SELECT
    t.relname AS table_name,
    t.n_tup_ins AS inserted,
    t.n_tup_upd AS updated,
    t.n_tup_del AS deleted
FROM pg_stat_xact_user_tables AS t
WHERE t.n_tup_ins + t.n_tup_upd + t.n_tup_del > 0
ORDER BY t.relname ASC;
