-- migrate:up
-- The durable copy of each login session (chatstore.realtime.sessions): Redis answers every
-- request, this table answers while Redis is unreachable, and deleting a row is what makes
-- a revocation hold whatever Redis says (a Redis copy is checked against its row at least
-- once a minute). id is the SHA-256 of the token in hex, never the token itself.
-- Indexes:
--   primary key (id): every lookup, refresh and logout is by session id.
--   sessions_user_id_idx: revoke_all and the foreign key to users (ON DELETE CASCADE must
--     find a deleted user's sessions without a scan).
--   sessions_expires_at_idx: each login prunes a few expired rows, oldest first.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE sessions (
    id text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The session's data as the JSON text the Redis copy holds (text, not jsonb: it round
    -- trips exactly, and a NUL inside a string stays the JSON escape jsonb refuses).
    data text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Slid forward only when less than half the lifetime is left: at most one write per
    -- half lifetime per session, whatever the request rate.
    expires_at timestamptz NOT NULL,
    CONSTRAINT sessions_id_is_sha256_hex CHECK (id ~ '^[0-9a-f]{64}$')
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

COMMENT ON TABLE sessions IS
'Login sessions, durable copy of the Redis session:{id} hashes; id = sha256(token) in hex.';

-- migrate:down
DROP TABLE sessions;
