-- migrate:up
-- Indexes:
--   messages_room_seq_key: the seq is unique per room; history pages (before a seq),
--     catch-up (after a seq) and the offset path all walk it; also the foreign key to rooms.
--   messages_room_id_id_key: target of the (room_id, message_id) foreign keys from revisions
--     and receipts, so those rows can never name a message of another room.
--   messages_client_id_key: the idempotency key, unique per room and sender, for retried sends.
--   messages_deleted_room_seq_idx: unread counts subtract the deleted messages after a read
--     marker; deletes are rare, so this partial index stays tiny.
--   messages_sender_id_idx, messages_deleted_by_idx: foreign keys to users
--     (ON DELETE SET NULL must find the rows without a scan).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    -- NULL for system messages, and once the sender's account is deleted.
    sender_id uuid REFERENCES users (id) ON DELETE SET NULL,
    kind text NOT NULL DEFAULT 'text',
    content text NOT NULL DEFAULT '',
    -- File metadata for image and file messages: {"url", "name", "mime_type", "size"}.
    attachment jsonb,
    -- Optional id chosen by the client so a retried send returns the first message.
    client_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    edited_at timestamptz,
    edit_count integer NOT NULL DEFAULT 0,
    -- Soft delete: the row keeps its seq so history has no holes; reads hide the content.
    deleted_at timestamptz,
    deleted_by uuid REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT messages_seq_positive CHECK (seq > 0),
    CONSTRAINT messages_kind_valid CHECK (kind IN ('text', 'image', 'file', 'system')),
    CONSTRAINT messages_content_length CHECK (char_length(content) <= 10000),
    CONSTRAINT messages_text_not_empty CHECK (
        kind IN ('image', 'file') OR char_length(btrim(content)) > 0
    ),
    CONSTRAINT messages_attachment_iff_media CHECK (
        (kind IN ('image', 'file')) = (attachment IS NOT NULL)
    ),
    CONSTRAINT messages_attachment_shape CHECK (
        -- coalesce: a missing key gives NULL, which a CHECK would otherwise let through.
        attachment IS NULL OR coalesce(
            jsonb_typeof(attachment) = 'object'
            AND jsonb_typeof(attachment -> 'url') = 'string'
            AND jsonb_typeof(attachment -> 'name') = 'string'
            AND jsonb_typeof(attachment -> 'mime_type') = 'string'
            AND jsonb_typeof(attachment -> 'size') = 'number',
            false
        )
    ),
    CONSTRAINT messages_client_id_length CHECK (char_length(client_id) BETWEEN 1 AND 64),
    CONSTRAINT messages_edit_tracking CHECK ((edit_count = 0) = (edited_at IS NULL)),
    CONSTRAINT messages_edit_count_not_negative CHECK (edit_count >= 0),
    CONSTRAINT messages_deleted_by_needs_deleted_at CHECK (
        deleted_by IS NULL OR deleted_at IS NOT NULL
    )
);

CREATE UNIQUE INDEX messages_room_seq_key ON messages (room_id, seq);
CREATE UNIQUE INDEX messages_room_id_id_key ON messages (room_id, id);
CREATE UNIQUE INDEX messages_client_id_key ON messages (room_id, sender_id, client_id)
WHERE client_id IS NOT NULL;
CREATE INDEX messages_deleted_room_seq_idx ON messages (room_id, seq)
WHERE deleted_at IS NOT NULL;
CREATE INDEX messages_sender_id_idx ON messages (sender_id);
CREATE INDEX messages_deleted_by_idx ON messages (deleted_by) WHERE deleted_by IS NOT NULL;

CREATE TRIGGER messages_set_updated_at
BEFORE UPDATE OF content, attachment, edited_at, deleted_at ON messages
FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE messages IS 'Chat messages; seq is gap-free per room in commit order.';

-- migrate:down
DROP TABLE messages;
