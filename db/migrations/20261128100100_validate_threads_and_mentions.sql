-- migrate:up
-- Validates the three constraints 20261128100000 added NOT VALID. VALIDATE CONSTRAINT takes
-- a SHARE UPDATE EXCLUSIVE lock, which lets reads and writes go on while it scans; from
-- then on PostgreSQL relies on them (every row checked). No indexes here.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '600s';

ALTER TABLE messages VALIDATE CONSTRAINT messages_thread_root_fkey;
ALTER TABLE messages VALIDATE CONSTRAINT messages_thread_shape;
ALTER TABLE messages VALIDATE CONSTRAINT messages_mentioned_ids_size;

-- migrate:down
-- Nothing to undo: a validated constraint is dropped by the down step of 20261128100000.
SELECT 1;
