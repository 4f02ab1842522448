-- migrate:up
-- Two flags on messages that let a read skip the lookups an undecorated message does not
-- need: has_reactions (the message has, or once had, a reaction) and has_thread (the
-- message is the root of a thread: it has a threads row). History pages, catch-up, thread
-- pages and single reads look up a message's reactions and thread summary only when its
-- flag is set (message_decorations() below), so a page of plain messages does no lookup
-- at all. Measured on the benchmark's dataset (50-message page, one task): 1.58 ms
-- with a lookup of each per message, about 0.65 ms with the flags, as before reactions and
-- threads existed.
--
-- Kept by triggers on the rows they stand for (AFTER INSERT on message_reactions and on
-- threads, row level: a statement that inserts nothing fires nothing, so a plain send
-- pays nothing), so every writer keeps them, in the writer's transaction: a snapshot that
-- sees a reaction or a thread sees the flag. Each trigger writes the message row only the
-- first time (AND NOT has_...), so later reactions and replies read it and move on. The
-- flags are never set back to FALSE: a flag with nothing behind it costs one lookup that
-- finds nothing (the read then shows no reactions, no summary), while a FALSE with
-- something behind it would hide it. Writers take the room row lock before they insert a
-- reaction or a thread (sql/reactions.sql, sql/sending.sql), as edits do before they write
-- a message row, so the triggers' message writes add no new lock order. Following a thread
-- creates its threads row without the room lock, but takes no other lock after it.
--
-- No indexes here: the flags are read on rows a query already has, never searched.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A constant default: PostgreSQL 11 and later store it in the catalog, no table rewrite.
ALTER TABLE messages
ADD COLUMN has_reactions boolean NOT NULL DEFAULT FALSE,
ADD COLUMN has_thread boolean NOT NULL DEFAULT FALSE;

COMMENT ON COLUMN messages.has_reactions IS
'The message has or once had a reaction (message_reactions_flag_message; never reset). Reads look reactions up only when set.';

COMMENT ON COLUMN messages.has_thread IS
'The message is a thread root with a threads row (threads_flag_root; never reset). Reads look the summary up only when set.';

CREATE FUNCTION flag_reacted_message() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Only has_reactions is set, so messages_set_updated_at (BEFORE UPDATE OF content,
    -- attachment, edited_at, deleted_at) does not fire: a reaction is not an edit.
    UPDATE messages
    SET has_reactions = TRUE
    WHERE room_id = NEW.room_id AND id = NEW.message_id AND NOT has_reactions;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION flag_reacted_message() IS
'AFTER INSERT trigger on message_reactions: sets messages.has_reactions the first time.';

CREATE TRIGGER message_reactions_flag_message
AFTER INSERT ON message_reactions
FOR EACH ROW EXECUTE FUNCTION flag_reacted_message();

CREATE FUNCTION flag_thread_root() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages
    SET has_thread = TRUE
    WHERE room_id = NEW.room_id AND id = NEW.root_id AND NOT has_thread;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION flag_thread_root() IS
'AFTER INSERT trigger on threads: sets messages.has_thread on the root the first time.';

CREATE TRIGGER threads_flag_root
AFTER INSERT ON threads
FOR EACH ROW EXECUTE FUNCTION flag_thread_root();

-- What a read shows of a message beyond its own columns, in one row: its thread summary
-- (thread_summary(), when with_thread) and its reactions as the reader sees them
-- (reaction_summary(), when with_reactions); NULL for what is not asked for. Callers pass
-- the message's flags, with their own masking rules added (a deleted message shows no
-- reactions, a non-member sees neither), so a message with neither flag does no lookup:
-- each scalar subquery under its CASE runs only when asked. A table function, joined
-- LATERAL and inlined into the calling query, as the two it uses are.
CREATE FUNCTION message_decorations(
    decorated_room_id uuid,
    decorated_id uuid,
    reader_id uuid,
    with_thread boolean,
    with_reactions boolean
) RETURNS TABLE (thread jsonb, reactions jsonb)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT
        CASE
            WHEN with_thread
                THEN (SELECT ts.thread FROM thread_summary(decorated_room_id, decorated_id) AS ts)
        END AS thread,
        CASE
            WHEN with_reactions
                THEN (
                    SELECT rx.reactions
                    FROM reaction_summary(decorated_room_id, decorated_id, reader_id) AS rx
                )
        END AS reactions
$$;

COMMENT ON FUNCTION message_decorations(uuid, uuid, uuid, boolean, boolean) IS
'One row: a message''s thread summary and reactions (for the reader), each only when its flag is passed, else NULL.';

-- The rows written before the triggers existed. In this transaction, after the triggers:
-- creating them locked message_reactions and threads against writes until commit, so no
-- reaction or thread can slip between this backfill and its trigger. Writes only the
-- messages that have reactions or threads.
UPDATE messages AS m
SET has_reactions = TRUE
FROM (
    SELECT DISTINCT
        mr.room_id,
        mr.message_id
    FROM message_reactions AS mr
) AS reacted
WHERE m.room_id = reacted.room_id AND m.id = reacted.message_id;

UPDATE messages AS m
SET has_thread = TRUE
FROM threads AS t
WHERE m.room_id = t.room_id AND m.id = t.root_id;

-- migrate:down
DROP FUNCTION message_decorations(uuid, uuid, uuid, boolean, boolean);
DROP TRIGGER threads_flag_root ON threads;
DROP FUNCTION flag_thread_root();
DROP TRIGGER message_reactions_flag_message ON message_reactions;
DROP FUNCTION flag_reacted_message();
ALTER TABLE messages DROP COLUMN has_thread;
ALTER TABLE messages DROP COLUMN has_reactions;
