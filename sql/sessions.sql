-- Sessions: the durable copy of each login session (chatstore.realtime.sessions).
--
-- Redis holds the copy every request reads; these rows answer while Redis is unreachable,
-- and a Redis copy is checked against its row from time to time, so deleting the row is
-- what ends a session for good. id is the SHA-256 of the token in hex (the token itself is
-- never stored); data is the session's JSON text, exactly as the Redis copy holds it.

-- name: insert_session(session_id, user_id, payload, at)^
-- The new row's created_at, or nothing when a row with this id exists already. payload is
-- the data as JSON text; the session expires at :at. A user that does not exist violates
-- sessions_user_id_fkey. The statement also deletes up to two expired rows, oldest first
-- (skipping rows others hold), so logins keep expired sessions from piling up.
WITH pruned AS (
    DELETE FROM sessions AS s
    WHERE s.id IN (
        SELECT e.id
        FROM sessions AS e
        WHERE e.expires_at < now()
        ORDER BY e.expires_at ASC
        LIMIT 2
        FOR UPDATE SKIP LOCKED
    )
)

INSERT INTO sessions (id, user_id, data, expires_at)
VALUES (:session_id::text, :user_id, :payload::text, :at)
ON CONFLICT (id) DO NOTHING
RETURNING created_at;

-- name: check_session(session_id, at)^
-- The session's user_id, data, created_at and expires_at when its row exists and has not
-- expired, else nothing. When less than half the lifetime it would get (:at - now()) is
-- left, expires_at moves to :at in the same statement: at most one write per half lifetime.
WITH live AS (
    SELECT
        s.id,
        s.user_id,
        s.data,
        s.created_at,
        s.expires_at
    FROM sessions AS s
    WHERE s.id = :session_id::text AND s.expires_at > now()
),

slid AS (
    UPDATE sessions AS s
    SET expires_at = :at
    FROM live AS l
    WHERE
        s.id = l.id
        AND l.expires_at < now() + (:at::timestamptz - now()) / 2
    RETURNING s.expires_at
)

SELECT
    l.user_id,
    l.data,
    l.created_at,
    coalesce(sl.expires_at, l.expires_at) AS expires_at
FROM live AS l
LEFT JOIN slid AS sl ON TRUE;

-- name: delete_session(session_id)!
-- Row count: 1 when the session's row was deleted (a logout), 0 when there was none.
DELETE FROM sessions
WHERE id = :session_id::text;

-- name: delete_user_sessions(user_id)!
-- Row count: how many of the user's session rows were deleted, expired ones included.
DELETE FROM sessions
WHERE user_id = :user_id;
