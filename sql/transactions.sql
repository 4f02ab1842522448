-- Transactions: how chatstore learns the fate of a COMMIT whose answer was lost.

-- name: current_xact_id()^
-- This transaction's id (assigned now if it has none yet), read just before COMMIT.
SELECT pg_current_xact_id()::text AS xact_id;

-- name: xact_status(xact_id)^
-- 'committed', 'aborted' or 'in progress' for a recent transaction id, NULL when it is too
-- old for PostgreSQL to remember (pg_xact_status).
SELECT pg_xact_status(:xact_id::xid8) AS status;
