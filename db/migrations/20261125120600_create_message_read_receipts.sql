-- migrate:up
-- Indexes:
--   primary key (room_id, message_id, user_id): who read a message, one receipt per reader,
--     and the (room_id, message_id) foreign key to messages.
--   message_read_receipts_user_id_idx: foreign key to users (ON DELETE CASCADE).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE message_read_receipts (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, message_id, user_id),
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE
);

CREATE INDEX message_read_receipts_user_id_idx ON message_read_receipts (user_id);

COMMENT ON TABLE message_read_receipts IS 'Who read which message, and when.';

-- migrate:down
DROP TABLE message_read_receipts;
