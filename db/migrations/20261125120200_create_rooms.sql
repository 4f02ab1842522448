-- migrate:up
-- Indexes:
--   rooms_created_by_idx: foreign key to users (ON DELETE SET NULL must find the rows).
--   rooms_direct_pair_key: one direct room per pair of users; also serves the first
--     foreign key column (direct_user_low) and the get-or-create lookup.
--   rooms_direct_user_high_idx: the second direct-pair foreign key.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE rooms (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL,
    name text,
    description text,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    -- A direct room's two users, the smaller uuid first, so (a, b) and (b, a) are one pair.
    -- They become NULL when a user is deleted; the room and its history stay for the other.
    direct_user_low uuid REFERENCES users (id) ON DELETE SET NULL,
    direct_user_high uuid REFERENCES users (id) ON DELETE SET NULL,
    -- Last per-room message sequence number handed out. Sending locks this row and bumps
    -- it in the insert transaction, which makes seqs gap-free in commit order.
    last_seq bigint NOT NULL DEFAULT 0,
    last_message_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rooms_kind_valid CHECK (kind IN ('public', 'private', 'direct')),
    CONSTRAINT rooms_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT rooms_named_unless_direct CHECK (kind = 'direct' OR name IS NOT NULL),
    CONSTRAINT rooms_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT rooms_direct_pair_only_for_direct CHECK (
        kind = 'direct' OR (direct_user_low IS NULL AND direct_user_high IS NULL)
    ),
    CONSTRAINT rooms_direct_pair_ordered CHECK (direct_user_low < direct_user_high),
    CONSTRAINT rooms_last_seq_not_negative CHECK (last_seq >= 0)
);

CREATE INDEX rooms_created_by_idx ON rooms (created_by);
CREATE UNIQUE INDEX rooms_direct_pair_key ON rooms (direct_user_low, direct_user_high);
CREATE INDEX rooms_direct_user_high_idx ON rooms (direct_user_high);

-- Sending a message moves last_seq and last_message_at; that is not an edit of the room.
CREATE TRIGGER rooms_set_updated_at
BEFORE UPDATE OF kind, name, description ON rooms
FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE rooms IS 'Public, private and direct conversations.';
COMMENT ON COLUMN rooms.last_seq IS 'Highest message seq handed out in this room.';

-- migrate:down
DROP TABLE rooms;
