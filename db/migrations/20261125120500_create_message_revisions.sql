-- migrate:up
-- Indexes:
--   primary key (room_id, message_id, revision): a message's edit history in order, and the
--     (room_id, message_id) foreign key to messages.
--   message_revisions_edited_by_idx: foreign key to users (ON DELETE SET NULL).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE message_revisions (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    -- 1 is the original text, 2 the text after the first edit, and so on.
    revision integer NOT NULL,
    content text NOT NULL,
    attachment jsonb,
    -- Who wrote this version and when it was replaced by the next one.
    edited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    written_at timestamptz NOT NULL,
    replaced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, message_id, revision),
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE,
    CONSTRAINT message_revisions_revision_positive CHECK (revision > 0)
);

CREATE INDEX message_revisions_edited_by_idx ON message_revisions (edited_by)
WHERE edited_by IS NOT NULL;

COMMENT ON TABLE message_revisions IS 'Every previous version of an edited message.';

-- migrate:down
DROP TABLE message_revisions;
