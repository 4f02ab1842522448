-- migrate:up
-- Indexes:
--   users_email_lower_key, users_username_lower_key: uniqueness regardless of letter case,
--   and the lookup path for login by email or username (queries compare lower(column)).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL,
    username text NOT NULL,
    display_name text,
    -- Only a bcrypt hash ever lands here: the check refuses anything that is not a
    -- well-formed $2a$/$2b$/$2y$ hash of cost 10 or more, so a plain password cannot.
    password_hash text NOT NULL,
    is_online boolean NOT NULL DEFAULT false,
    last_seen_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_format CHECK (
        char_length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'
    ),
    CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$'),
    CONSTRAINT users_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 100),
    CONSTRAINT users_password_hash_is_bcrypt CHECK (
        password_hash ~ '^\$2[aby]\$(1[0-9]|2[0-9]|3[01])\$[./A-Za-z0-9]{53}$'
    )
);

CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

CREATE TRIGGER users_set_updated_at
BEFORE UPDATE OF email, username, display_name, password_hash ON users
FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE users IS 'People who chat. Never stores a password, only its bcrypt hash.';
COMMENT ON COLUMN users.is_online IS 'Written through from Redis presence; Redis is the live view.';

-- migrate:down
DROP TABLE users;
