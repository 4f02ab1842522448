-- migrate:up
-- users.membership_version moves whenever the user's set of rooms changes, so a process can
-- ask "did any of these connected users join or leave a room?" for many users in one query.
-- A trigger keeps it, not the queries: it also fires for memberships cascaded away when a
-- room is deleted, and for writes made outside chatstore. No indexes here (the trigger
-- updates users by primary key).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE users
ADD COLUMN membership_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bump_membership_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Only membership_version is set, so the users_set_updated_at trigger (BEFORE UPDATE OF
    -- email, username, display_name, password_hash) does not fire: joining a room is not a
    -- profile edit. For a user being deleted (the cascade of DELETE FROM users), the row is
    -- already gone and this updates nothing.
    UPDATE users
    SET membership_version = membership_version + 1
    WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION bump_membership_version() IS
'AFTER INSERT OR DELETE trigger on room_users: bumps the member''s users.membership_version.';

-- Row level, so a room deletion bumps each of its members once.
CREATE TRIGGER room_users_bump_membership_version
AFTER INSERT OR DELETE ON room_users
FOR EACH ROW EXECUTE FUNCTION bump_membership_version();

COMMENT ON COLUMN users.membership_version IS
'Moves whenever a membership of this user is added or removed (trigger on room_users).';

-- migrate:down
DROP TRIGGER room_users_bump_membership_version ON room_users;
DROP FUNCTION bump_membership_version();
ALTER TABLE users DROP COLUMN membership_version;
