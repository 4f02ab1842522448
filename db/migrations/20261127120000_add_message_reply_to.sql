-- migrate:up
-- Replies: a message may quote another message of the same room (messages.reply_to_id).
-- Every read that returns a message returns a preview of the quoted one in the same round
-- trip, through quoted_preview() below, so the queries in sql/ stay short and all show
-- the quoted message the same way: a deleted one as deleted, never its content.
--
-- The foreign key is (room_id, reply_to_id) -> messages (room_id, id), so a reply can only
-- quote a message of its own room; deleting the quoted row (a room deletion removes all of
-- them; a DBA may remove one) clears reply_to_id only (PostgreSQL 15's column list), never
-- the reply. Both constraints are added NOT VALID, which skips the scan of every existing
-- message under this migration's lock (every existing row is NULL, so there is nothing to
-- find); 20261127120100 validates them without blocking writes. No index here: the one the
-- foreign key needs is built concurrently by 20261127120200.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE messages ADD COLUMN reply_to_id uuid;

ALTER TABLE messages
ADD CONSTRAINT messages_reply_to_fkey
FOREIGN KEY (room_id, reply_to_id) REFERENCES messages (room_id, id)
ON DELETE SET NULL (reply_to_id)
NOT VALID;

ALTER TABLE messages
ADD CONSTRAINT messages_reply_to_other CHECK (reply_to_id <> id) NOT VALID;

COMMENT ON COLUMN messages.reply_to_id IS
'The message of the same room this one quotes (a reply), or NULL.';

-- A message as a preview shows it (a quoted message, a room's last message in the room
-- list): id, seq, sender_id, kind, created_at, the first 100 characters of its content
-- (NULL once deleted: a deleted message never shows its content) and is_deleted. One
-- function, so every preview masks and cuts a message the same way.
CREATE FUNCTION message_preview(shown messages) RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'id', shown.id,
        'seq', shown.seq,
        'sender_id', shown.sender_id,
        'kind', shown.kind,
        'created_at', shown.created_at,
        'content', CASE WHEN shown.deleted_at IS NULL THEN left(shown.content, 100) END,
        'is_deleted', shown.deleted_at IS NOT NULL
    )
$$;

COMMENT ON FUNCTION message_preview(messages) IS
'Preview of a message (jsonb): id, seq, sender_id, kind, created_at, content (first 100 characters, NULL when deleted), is_deleted.';

-- The preview of the message a reply quotes: NULL for a NULL id (STRICT: no lookup at all
-- for a message that quotes nothing) or a message no longer there. One index lookup on
-- messages_room_id_id_key.
CREATE FUNCTION quoted_preview(quoted_room_id uuid, quoted_id uuid) RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT message_preview(q)
    FROM messages AS q
    WHERE q.room_id = quoted_room_id AND q.id = quoted_id
$$;

COMMENT ON FUNCTION quoted_preview(uuid, uuid) IS
'message_preview() of the message (room_id, id), or NULL: what a reply shows of the message it quotes.';

-- migrate:down
DROP FUNCTION quoted_preview(uuid, uuid);
DROP FUNCTION message_preview(messages);
ALTER TABLE messages DROP CONSTRAINT messages_reply_to_other;
ALTER TABLE messages DROP CONSTRAINT messages_reply_to_fkey;
ALTER TABLE messages DROP COLUMN reply_to_id;
