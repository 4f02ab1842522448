-- migrate:up
-- Indexes:
--   primary key (room_id, user_id): membership checks on every read/send, the members of a
--     room, and the foreign key to rooms.
--   room_users_user_id_idx: a user's rooms (the room list) and the foreign key to users.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE room_users (
    room_id uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member',
    joined_at timestamptz NOT NULL DEFAULT now(),
    -- The member's read marker: every message with seq <= last_read_seq counts as read.
    -- Only ever moves forward (the queries use GREATEST).
    last_read_seq bigint NOT NULL DEFAULT 0,
    last_read_at timestamptz,
    PRIMARY KEY (room_id, user_id),
    CONSTRAINT room_users_role_valid CHECK (role IN ('owner', 'admin', 'member')),
    CONSTRAINT room_users_last_read_seq_not_negative CHECK (last_read_seq >= 0)
);

CREATE INDEX room_users_user_id_idx ON room_users (user_id, room_id);

COMMENT ON TABLE room_users IS 'Room membership: role and read marker per member.';

-- migrate:down
DROP TABLE room_users;
