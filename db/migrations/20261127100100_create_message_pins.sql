-- migrate:up
-- Pinned messages: at most one pin per message. Pinning and unpinning append
-- message.pinned / message.unpinned to the room's change log in the same statement, under
-- the room row lock (sql/pins.sql). A soft-deleted message keeps its pin (listed as
-- deleted, without its content); a message's row going (with its room) takes the pin along.
-- Indexes:
--   primary key (room_id, message_id): one pin per message, and the (room_id, message_id)
--     foreign key to messages (ON DELETE CASCADE finds a message's pin).
--   message_pins_room_pinned_at_idx: a room's pins newest first, keyset-paged on
--     (pinned_at, message_id), walked backward from the cursor.
--   message_pins_pinned_by_idx: the foreign key to users (ON DELETE SET NULL must find the
--     rows without a scan); partial, since the pins of deleted users need no entry.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE message_pins (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    -- Who pinned it; NULL once that user is deleted (the pin itself stays).
    pinned_by uuid REFERENCES users (id) ON DELETE SET NULL,
    pinned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, message_id),
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE
);

CREATE INDEX message_pins_room_pinned_at_idx ON message_pins (room_id, pinned_at, message_id);
CREATE INDEX message_pins_pinned_by_idx ON message_pins (pinned_by) WHERE pinned_by IS NOT NULL;

COMMENT ON TABLE message_pins IS 'Pinned messages of a room: who pinned each, and when.';

-- migrate:down
DROP TABLE message_pins;
