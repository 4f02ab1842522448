-- What chatstore stores in PostgreSQL, condensed: tests/test_fuzz.py takes this before and
-- after every call it makes, and a call that raised must leave all of it unchanged.

-- name: table_states()
-- Per table chatstore writes: its row count and an md5 of every row as text (sorted, so
-- the digest does not depend on physical order). Any insert, update or delete changes it.
-- may scan every table: the fuzz test's databases hold a few hundred rows
SELECT
    'users' AS table_name,
    count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM users AS t
UNION ALL
SELECT
    'rooms' AS table_name,
    count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM rooms AS t
UNION ALL
SELECT
    'room_users' AS table_name,
    count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM room_users AS t
UNION ALL
SELECT
    'messages' AS table_name,
    count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM messages AS t
UNION ALL
SELECT
    'message_revisions' AS table_name,
    count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM message_revisions AS t
UNION ALL
SELECT
    'message_read_receipts' AS table_name,
    count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM message_read_receipts AS t
UNION ALL
SELECT
    'room_events' AS table_name,
    count(*) AS row_count,
    md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest
FROM room_events AS t;
