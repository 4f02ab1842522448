-- migrate:up
-- pg_trgm, for the trigram index that serves substring search of public room names
-- (20261127110300_index_public_room_names_trigram). It is a trusted extension
-- (PostgreSQL 13+): a role with CREATE on the database may install it, no superuser
-- needed. IF NOT EXISTS: a database may have it already for an application's own use.
-- No indexes here (the index comes in its own migration, built concurrently).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- migrate:down
-- Refused (nothing dropped) while anything else still uses pg_trgm, such as an
-- application's own index: RESTRICT is the default, and is what keeps that index.
DROP EXTENSION IF EXISTS pg_trgm;
