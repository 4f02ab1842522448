\restrict dbmate

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;


--
-- Name: EXTENSION pg_trgm; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';


--
-- Name: bump_membership_version(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.bump_membership_version() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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


--
-- Name: FUNCTION bump_membership_version(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.bump_membership_version() IS 'AFTER INSERT OR DELETE trigger on room_users: bumps the member''s users.membership_version.';


--
-- Name: count_room_members(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.count_room_members() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Only member_count is set, so the rooms_set_updated_at trigger (BEFORE UPDATE OF kind,
    -- name, description) does not fire: a join is not an edit of the room. For a room being
    -- deleted (the cascade of DELETE FROM rooms), the row is already gone and this updates
    -- nothing.
    UPDATE rooms
    SET member_count = member_count + CASE WHEN TG_OP = 'DELETE' THEN -1 ELSE 1 END
    WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.room_id ELSE NEW.room_id END;
    RETURN NULL;
END;
$$;


--
-- Name: FUNCTION count_room_members(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.count_room_members() IS 'AFTER INSERT OR DELETE trigger on room_users: keeps rooms.member_count.';


--
-- Name: flag_reacted_message(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.flag_reacted_message() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Only has_reactions is set, so messages_set_updated_at (BEFORE UPDATE OF content,
    -- attachment, edited_at, deleted_at) does not fire: a reaction is not an edit.
    UPDATE messages
    SET has_reactions = TRUE
    WHERE room_id = NEW.room_id AND id = NEW.message_id AND NOT has_reactions;
    RETURN NULL;
END;
$$;


--
-- Name: FUNCTION flag_reacted_message(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.flag_reacted_message() IS 'AFTER INSERT trigger on message_reactions: sets messages.has_reactions the first time.';


--
-- Name: flag_thread_root(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.flag_thread_root() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE messages
    SET has_thread = TRUE
    WHERE room_id = NEW.room_id AND id = NEW.root_id AND NOT has_thread;
    RETURN NULL;
END;
$$;


--
-- Name: FUNCTION flag_thread_root(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.flag_thread_root() IS 'AFTER INSERT trigger on threads: sets messages.has_thread on the root the first time.';


--
-- Name: message_decorations(uuid, uuid, uuid, boolean, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.message_decorations(decorated_room_id uuid, decorated_id uuid, reader_id uuid, with_thread boolean, with_reactions boolean) RETURNS TABLE(thread jsonb, reactions jsonb)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
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


--
-- Name: FUNCTION message_decorations(decorated_room_id uuid, decorated_id uuid, reader_id uuid, with_thread boolean, with_reactions boolean); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.message_decorations(decorated_room_id uuid, decorated_id uuid, reader_id uuid, with_thread boolean, with_reactions boolean) IS 'One row: a message''s thread summary and reactions (for the reader), each only when its flag is passed, else NULL.';


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.messages (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    room_id uuid NOT NULL,
    seq bigint NOT NULL,
    sender_id uuid,
    kind text DEFAULT 'text'::text NOT NULL,
    content text DEFAULT ''::text NOT NULL,
    attachment jsonb,
    client_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    edited_at timestamp with time zone,
    edit_count integer DEFAULT 0 NOT NULL,
    deleted_at timestamp with time zone,
    deleted_by uuid,
    reply_to_id uuid,
    thread_root_id uuid,
    thread_seq bigint,
    shown_in_room boolean DEFAULT true NOT NULL,
    mentioned_ids uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    mentions_room boolean DEFAULT false NOT NULL,
    has_reactions boolean DEFAULT false NOT NULL,
    has_thread boolean DEFAULT false NOT NULL,
    CONSTRAINT messages_attachment_iff_media CHECK (((kind = ANY (ARRAY['image'::text, 'file'::text])) = (attachment IS NOT NULL))),
    CONSTRAINT messages_attachment_shape CHECK (((attachment IS NULL) OR COALESCE(((jsonb_typeof(attachment) = 'object'::text) AND (jsonb_typeof((attachment -> 'url'::text)) = 'string'::text) AND (jsonb_typeof((attachment -> 'name'::text)) = 'string'::text) AND (jsonb_typeof((attachment -> 'mime_type'::text)) = 'string'::text) AND (jsonb_typeof((attachment -> 'size'::text)) = 'number'::text)), false))),
    CONSTRAINT messages_client_id_length CHECK (((char_length(client_id) >= 1) AND (char_length(client_id) <= 64))),
    CONSTRAINT messages_content_length CHECK ((char_length(content) <= 10000)),
    CONSTRAINT messages_deleted_by_needs_deleted_at CHECK (((deleted_by IS NULL) OR (deleted_at IS NOT NULL))),
    CONSTRAINT messages_edit_count_not_negative CHECK ((edit_count >= 0)),
    CONSTRAINT messages_edit_tracking CHECK (((edit_count = 0) = (edited_at IS NULL))),
    CONSTRAINT messages_kind_valid CHECK ((kind = ANY (ARRAY['text'::text, 'image'::text, 'file'::text, 'system'::text]))),
    CONSTRAINT messages_mentioned_ids_size CHECK ((cardinality(mentioned_ids) <= 100)),
    CONSTRAINT messages_reply_to_other CHECK ((reply_to_id <> id)),
    CONSTRAINT messages_seq_positive CHECK ((seq > 0)),
    CONSTRAINT messages_text_not_empty CHECK (((kind = ANY (ARRAY['image'::text, 'file'::text])) OR (char_length(btrim(content)) > 0))),
    CONSTRAINT messages_thread_shape CHECK ((((thread_root_id IS NULL) = (thread_seq IS NULL)) AND (thread_seq > 0) AND (thread_root_id <> id) AND (shown_in_room OR (thread_root_id IS NOT NULL))))
);


--
-- Name: TABLE messages; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.messages IS 'Chat messages; seq is gap-free per room in commit order.';


--
-- Name: COLUMN messages.reply_to_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.reply_to_id IS 'The message of the same room this one quotes (a reply), or NULL.';


--
-- Name: COLUMN messages.thread_root_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.thread_root_id IS 'The root of the thread this message replies in (a message of the same room), or NULL.';


--
-- Name: COLUMN messages.thread_seq; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.thread_seq IS 'Position in its thread: gap-free per thread in commit order; NULL outside threads.';


--
-- Name: COLUMN messages.shown_in_room; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.shown_in_room IS 'FALSE for a thread reply that stays in its thread; TRUE for every other message.';


--
-- Name: COLUMN messages.mentioned_ids; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.mentioned_ids IS 'The members this message mentions (also rows of message_mentions), as reads return them.';


--
-- Name: COLUMN messages.mentions_room; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.mentions_room IS 'The message mentions every member of the room (@room).';


--
-- Name: COLUMN messages.has_reactions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.has_reactions IS 'The message has or once had a reaction (message_reactions_flag_message; never reset). Reads look reactions up only when set.';


--
-- Name: COLUMN messages.has_thread; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.messages.has_thread IS 'The message is a thread root with a threads row (threads_flag_root; never reset). Reads look the summary up only when set.';


--
-- Name: message_preview(public.messages); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.message_preview(shown public.messages) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
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


--
-- Name: FUNCTION message_preview(shown public.messages); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.message_preview(shown public.messages) IS 'Preview of a message (jsonb): id, seq, sender_id, kind, created_at, content (first 100 characters, NULL when deleted), is_deleted.';


--
-- Name: quoted_preview(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.quoted_preview(quoted_room_id uuid, quoted_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$
    SELECT message_preview(q)
    FROM messages AS q
    WHERE q.room_id = quoted_room_id AND q.id = quoted_id
$$;


--
-- Name: FUNCTION quoted_preview(quoted_room_id uuid, quoted_id uuid); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.quoted_preview(quoted_room_id uuid, quoted_id uuid) IS 'message_preview() of the message (room_id, id), or NULL: what a reply shows of the message it quotes.';


--
-- Name: reaction_summary(uuid, uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.reaction_summary(summary_room_id uuid, summary_message_id uuid, reader_id uuid) RETURNS TABLE(reactions jsonb)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(jsonb_agg(
        jsonb_build_object(
            'message_id', summary_message_id,
            'reaction', k.reaction,
            'count', k.reaction_count,
            'reacted_by_me', k.mine
        )
        ORDER BY k.first_at, k.reaction
    ), '[]')
    FROM (
        SELECT
            mr.reaction,
            count(*) AS reaction_count,
            coalesce(bool_or(mr.user_id = reader_id), FALSE) AS mine,
            min(mr.created_at) AS first_at
        FROM message_reactions AS mr
        WHERE mr.room_id = summary_room_id AND mr.message_id = summary_message_id
        GROUP BY mr.reaction
    ) AS k
$$;


--
-- Name: FUNCTION reaction_summary(summary_room_id uuid, summary_message_id uuid, reader_id uuid); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.reaction_summary(summary_room_id uuid, summary_message_id uuid, reader_id uuid) IS 'One row: a message''s reactions as jsonb [{message_id, reaction, count, reacted_by_me}], first used first; [] for none.';


--
-- Name: set_updated_at(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;


--
-- Name: FUNCTION set_updated_at(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.set_updated_at() IS 'BEFORE UPDATE trigger: stamps updated_at with now().';


--
-- Name: thread_summary(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.thread_summary(summary_room_id uuid, summary_root_id uuid) RETURNS TABLE(thread jsonb)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT jsonb_build_object(
        'reply_count', t.reply_count,
        'last_thread_seq', t.last_thread_seq,
        'last_reply_at', t.last_reply_at,
        'participant_ids', t.participant_ids
    )
    FROM threads AS t
    WHERE t.room_id = summary_room_id AND t.root_id = summary_root_id
$$;


--
-- Name: FUNCTION thread_summary(summary_room_id uuid, summary_root_id uuid); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.thread_summary(summary_room_id uuid, summary_root_id uuid) IS 'The summary of the thread rooted at a message (one row of jsonb), or no row when it has none.';


--
-- Name: unread_mentions(uuid, uuid, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.unread_mentions(counted_room_id uuid, counted_user_id uuid, after_seq bigint) RETURNS TABLE(unread_mentions bigint)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT (
        SELECT count(*)
        FROM message_mentions AS mm
        WHERE
            mm.user_id = counted_user_id
            AND mm.room_id = counted_room_id
            AND mm.seq > after_seq
    ) + (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.room_id = counted_room_id
            AND m.seq > after_seq
            AND m.mentions_room
            AND m.deleted_at IS NULL
            AND NOT counted_user_id = any(m.mentioned_ids)
    )
$$;


--
-- Name: FUNCTION unread_mentions(counted_room_id uuid, counted_user_id uuid, after_seq bigint); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.unread_mentions(counted_room_id uuid, counted_user_id uuid, after_seq bigint) IS 'One row: unread mentions of a member in a room after a read marker (by name or @room), deleted messages left out.';


--
-- Name: unread_replies(uuid, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.unread_replies(counted_root_id uuid, last_thread_seq bigint, after_thread_seq bigint) RETURNS bigint
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$
    SELECT greatest(last_thread_seq - after_thread_seq, 0) - (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.thread_root_id = counted_root_id
            AND m.thread_seq > after_thread_seq
            AND m.deleted_at IS NOT NULL
    )
$$;


--
-- Name: FUNCTION unread_replies(counted_root_id uuid, last_thread_seq bigint, after_thread_seq bigint); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.unread_replies(counted_root_id uuid, last_thread_seq bigint, after_thread_seq bigint) IS 'Unread replies of a thread after a follower''s marker, deleted replies left out.';


--
-- Name: unread_thread_mentions(uuid, uuid, bigint, uuid, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.unread_thread_mentions(counted_room_id uuid, counted_root_id uuid, root_seq bigint, counted_user_id uuid, after_thread_seq bigint) RETURNS bigint
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$
    SELECT (
        SELECT count(*)
        FROM message_mentions AS mm
        WHERE
            mm.user_id = counted_user_id
            AND mm.thread_root_id = counted_root_id
            AND mm.thread_seq > after_thread_seq
    ) + (
        SELECT count(*)
        FROM messages AS m
        WHERE
            m.room_id = counted_room_id
            AND m.seq > root_seq
            AND m.mentions_room
            AND m.deleted_at IS NULL
            AND m.thread_root_id = counted_root_id
            AND m.thread_seq > after_thread_seq
            AND NOT counted_user_id = any(m.mentioned_ids)
    )
$$;


--
-- Name: FUNCTION unread_thread_mentions(counted_room_id uuid, counted_root_id uuid, root_seq bigint, counted_user_id uuid, after_thread_seq bigint); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.unread_thread_mentions(counted_room_id uuid, counted_root_id uuid, root_seq bigint, counted_user_id uuid, after_thread_seq bigint) IS 'Unread mentions of a follower in a thread after their thread marker (by name or @room).';


--
-- Name: room_users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.room_users (
    room_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role text DEFAULT 'member'::text NOT NULL,
    joined_at timestamp with time zone DEFAULT now() NOT NULL,
    last_read_seq bigint DEFAULT 0 NOT NULL,
    last_read_at timestamp with time zone,
    joined_event_seq bigint DEFAULT 0 NOT NULL,
    CONSTRAINT room_users_last_read_seq_not_negative CHECK ((last_read_seq >= 0)),
    CONSTRAINT room_users_role_valid CHECK ((role = ANY (ARRAY['owner'::text, 'admin'::text, 'member'::text])))
);


--
-- Name: TABLE room_users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.room_users IS 'Room membership: role and read marker per member.';


--
-- Name: COLUMN room_users.joined_event_seq; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.room_users.joined_event_seq IS 'event_seq of the member.joined entry that made the user a member (0: joined before the log).';


--
-- Name: rooms; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rooms (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    kind text NOT NULL,
    name text,
    description text,
    created_by uuid,
    direct_user_low uuid,
    direct_user_high uuid,
    last_seq bigint DEFAULT 0 NOT NULL,
    last_message_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    last_event_seq bigint DEFAULT 0 NOT NULL,
    pruned_through bigint DEFAULT 0 NOT NULL,
    member_count integer DEFAULT 0 NOT NULL,
    CONSTRAINT rooms_description_length CHECK ((char_length(description) <= 1000)),
    CONSTRAINT rooms_direct_pair_only_for_direct CHECK (((kind = 'direct'::text) OR ((direct_user_low IS NULL) AND (direct_user_high IS NULL)))),
    CONSTRAINT rooms_direct_pair_ordered CHECK ((direct_user_low < direct_user_high)),
    CONSTRAINT rooms_kind_valid CHECK ((kind = ANY (ARRAY['public'::text, 'private'::text, 'direct'::text]))),
    CONSTRAINT rooms_last_seq_not_negative CHECK ((last_seq >= 0)),
    CONSTRAINT rooms_name_length CHECK (((char_length(name) >= 1) AND (char_length(name) <= 100))),
    CONSTRAINT rooms_named_unless_direct CHECK (((kind = 'direct'::text) OR (name IS NOT NULL)))
);


--
-- Name: TABLE rooms; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.rooms IS 'Public, private and direct conversations.';


--
-- Name: COLUMN rooms.last_seq; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.rooms.last_seq IS 'Highest message seq handed out in this room.';


--
-- Name: COLUMN rooms.last_event_seq; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.rooms.last_event_seq IS 'Highest change-log event_seq handed out in this room (taken under the room row lock).';


--
-- Name: COLUMN rooms.pruned_through; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.rooms.pruned_through IS 'Change-log entries up to this event_seq may have been pruned; every later one exists.';


--
-- Name: COLUMN rooms.member_count; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.rooms.member_count IS 'How many members the room has (kept by the room_users_count_members trigger).';


--
-- Name: member_unread; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.member_unread AS
 SELECT ru.room_id,
    ru.user_id,
    ru.role,
    ru.last_read_seq,
    r.last_seq,
    r.last_message_at,
    ((r.last_seq - ru.last_read_seq) - ( SELECT count(*) AS count
           FROM public.messages m
          WHERE ((m.room_id = ru.room_id) AND (m.seq > ru.last_read_seq) AND (m.deleted_at IS NOT NULL)))) AS unread_count
   FROM (public.room_users ru
     JOIN public.rooms r ON ((ru.room_id = r.id)));


--
-- Name: VIEW member_unread; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.member_unread IS 'Per member and room: read marker, last seq and exact unread count (own messages never count: sending moves the sender''s marker).';


--
-- Name: message_mentions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_mentions (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    seq bigint NOT NULL,
    thread_root_id uuid,
    thread_seq bigint,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: TABLE message_mentions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.message_mentions IS 'One row per member a message mentions (not deleted): unread-mention counts and the inbox.';


--
-- Name: message_pins; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_pins (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    pinned_by uuid,
    pinned_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE message_pins; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.message_pins IS 'Pinned messages of a room: who pinned each, and when.';


--
-- Name: message_reactions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_reactions (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    reaction text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT message_reactions_reaction_format CHECK ((((char_length(reaction) >= 1) AND (char_length(reaction) <= 32)) AND (reaction !~ '[\u0001-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]'::text)))
);


--
-- Name: TABLE message_reactions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.message_reactions IS 'Who reacted to which message with which key (an emoji, a :shortcode:, +1), and when.';


--
-- Name: message_read_receipts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_read_receipts (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    read_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE message_read_receipts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.message_read_receipts IS 'Who read which message, and when.';


--
-- Name: message_revisions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_revisions (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    revision integer NOT NULL,
    content text NOT NULL,
    attachment jsonb,
    edited_by uuid,
    written_at timestamp with time zone NOT NULL,
    replaced_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT message_revisions_revision_positive CHECK ((revision > 0))
);


--
-- Name: TABLE message_revisions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.message_revisions IS 'Every previous version of an edited message.';


--
-- Name: room_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.room_events (
    room_id uuid NOT NULL,
    event_seq bigint NOT NULL,
    type text NOT NULL,
    actor_id uuid,
    payload jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT room_events_event_seq_positive CHECK ((event_seq > 0)),
    CONSTRAINT room_events_payload_is_object CHECK ((jsonb_typeof(payload) = 'object'::text)),
    CONSTRAINT room_events_type_format CHECK (((char_length(type) <= 64) AND (type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'::text)))
);


--
-- Name: TABLE room_events; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.room_events IS 'Per-room change log; event_seq is gap-free per room in commit order (rooms.last_event_seq).';


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version character varying NOT NULL
);


--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id text NOT NULL,
    user_id uuid NOT NULL,
    data text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT sessions_id_is_sha256_hex CHECK ((id ~ '^[0-9a-f]{64}$'::text))
);


--
-- Name: TABLE sessions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.sessions IS 'Login sessions, durable copy of the Redis session:{id} hashes; id = sha256(token) in hex.';


--
-- Name: thread_follows; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.thread_follows (
    room_id uuid NOT NULL,
    root_id uuid NOT NULL,
    user_id uuid NOT NULL,
    last_read_thread_seq bigint DEFAULT 0 NOT NULL,
    followed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT thread_follows_marker_not_negative CHECK ((last_read_thread_seq >= 0))
);


--
-- Name: TABLE thread_follows; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.thread_follows IS 'Who follows which thread, with each follower''s read marker in it.';


--
-- Name: threads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.threads (
    room_id uuid NOT NULL,
    root_id uuid NOT NULL,
    last_thread_seq bigint DEFAULT 0 NOT NULL,
    reply_count integer DEFAULT 0 NOT NULL,
    last_reply_at timestamp with time zone,
    participant_ids uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    last_activity_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT threads_counts_valid CHECK (((last_thread_seq >= 0) AND ((reply_count >= 0) AND (reply_count <= last_thread_seq)))),
    CONSTRAINT threads_participants_few CHECK ((cardinality(participant_ids) <= 3))
);


--
-- Name: TABLE threads; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.threads IS 'One row per thread (its root message): the summary pages show and the head of its thread_seq.';


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    username text NOT NULL,
    display_name text,
    password_hash text NOT NULL,
    is_online boolean DEFAULT false NOT NULL,
    last_seen_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    membership_version bigint DEFAULT 0 NOT NULL,
    CONSTRAINT users_display_name_length CHECK (((char_length(display_name) >= 1) AND (char_length(display_name) <= 100))),
    CONSTRAINT users_email_format CHECK (((char_length(email) <= 254) AND (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'::text))),
    CONSTRAINT users_password_hash_is_bcrypt CHECK ((password_hash ~ '^\$2[aby]\$(1[0-9]|2[0-9]|3[01])\$[./A-Za-z0-9]{53}$'::text)),
    CONSTRAINT users_username_format CHECK ((username ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$'::text))
);


--
-- Name: TABLE users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.users IS 'People who chat. Never stores a password, only its bcrypt hash.';


--
-- Name: COLUMN users.is_online; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.users.is_online IS 'Written through from Redis presence; Redis is the live view.';


--
-- Name: COLUMN users.membership_version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.users.membership_version IS 'Moves whenever a membership of this user is added or removed (trigger on room_users).';


--
-- Name: message_mentions message_mentions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_mentions
    ADD CONSTRAINT message_mentions_pkey PRIMARY KEY (room_id, message_id, user_id);


--
-- Name: message_pins message_pins_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_pins
    ADD CONSTRAINT message_pins_pkey PRIMARY KEY (room_id, message_id);


--
-- Name: message_reactions message_reactions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_reactions
    ADD CONSTRAINT message_reactions_pkey PRIMARY KEY (room_id, message_id, reaction, user_id);


--
-- Name: message_read_receipts message_read_receipts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_read_receipts
    ADD CONSTRAINT message_read_receipts_pkey PRIMARY KEY (room_id, message_id, user_id);


--
-- Name: message_revisions message_revisions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_revisions
    ADD CONSTRAINT message_revisions_pkey PRIMARY KEY (room_id, message_id, revision);


--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);


--
-- Name: room_events room_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_events
    ADD CONSTRAINT room_events_pkey PRIMARY KEY (room_id, event_seq);


--
-- Name: room_users room_users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_users
    ADD CONSTRAINT room_users_pkey PRIMARY KEY (room_id, user_id);


--
-- Name: rooms rooms_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: thread_follows thread_follows_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.thread_follows
    ADD CONSTRAINT thread_follows_pkey PRIMARY KEY (room_id, root_id, user_id);


--
-- Name: threads threads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.threads
    ADD CONSTRAINT threads_pkey PRIMARY KEY (room_id, root_id);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: message_mentions_inbox_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_mentions_inbox_idx ON public.message_mentions USING btree (user_id, created_at, message_id);


--
-- Name: message_mentions_room_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_mentions_room_idx ON public.message_mentions USING btree (user_id, room_id, seq);


--
-- Name: message_mentions_thread_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_mentions_thread_idx ON public.message_mentions USING btree (user_id, thread_root_id, thread_seq) WHERE (thread_root_id IS NOT NULL);


--
-- Name: message_pins_pinned_by_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_pins_pinned_by_idx ON public.message_pins USING btree (pinned_by) WHERE (pinned_by IS NOT NULL);


--
-- Name: message_pins_room_pinned_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_pins_room_pinned_at_idx ON public.message_pins USING btree (room_id, pinned_at, message_id);


--
-- Name: message_reactions_reactors_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_reactions_reactors_idx ON public.message_reactions USING btree (room_id, message_id, reaction, created_at, user_id);


--
-- Name: message_reactions_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_reactions_user_id_idx ON public.message_reactions USING btree (user_id);


--
-- Name: message_read_receipts_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_read_receipts_user_id_idx ON public.message_read_receipts USING btree (user_id);


--
-- Name: message_revisions_edited_by_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_revisions_edited_by_idx ON public.message_revisions USING btree (edited_by) WHERE (edited_by IS NOT NULL);


--
-- Name: messages_client_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX messages_client_id_key ON public.messages USING btree (room_id, sender_id, client_id) WHERE (client_id IS NOT NULL);


--
-- Name: messages_deleted_by_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_deleted_by_idx ON public.messages USING btree (deleted_by) WHERE (deleted_by IS NOT NULL);


--
-- Name: messages_deleted_room_seq_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_deleted_room_seq_idx ON public.messages USING btree (room_id, seq) WHERE (deleted_at IS NOT NULL);


--
-- Name: messages_reply_to_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_reply_to_idx ON public.messages USING btree (room_id, reply_to_id) WHERE (reply_to_id IS NOT NULL);


--
-- Name: messages_room_id_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX messages_room_id_id_key ON public.messages USING btree (room_id, id);


--
-- Name: messages_room_mentions_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_room_mentions_idx ON public.messages USING btree (room_id, seq) WHERE (mentions_room AND (deleted_at IS NULL));


--
-- Name: messages_room_mentions_time_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_room_mentions_time_idx ON public.messages USING btree (room_id, created_at, id) WHERE (mentions_room AND (deleted_at IS NULL));


--
-- Name: messages_room_seq_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX messages_room_seq_key ON public.messages USING btree (room_id, seq);


--
-- Name: messages_sender_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_sender_id_idx ON public.messages USING btree (sender_id);


--
-- Name: messages_thread_deleted_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_thread_deleted_idx ON public.messages USING btree (thread_root_id, thread_seq) WHERE ((thread_root_id IS NOT NULL) AND (deleted_at IS NOT NULL));


--
-- Name: messages_thread_seq_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX messages_thread_seq_key ON public.messages USING btree (room_id, thread_root_id, thread_seq) WHERE (thread_root_id IS NOT NULL);


--
-- Name: room_events_actor_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_events_actor_id_idx ON public.room_events USING btree (actor_id) WHERE (actor_id IS NOT NULL);


--
-- Name: room_events_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_events_created_at_idx ON public.room_events USING btree (created_at);


--
-- Name: room_users_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_users_user_id_idx ON public.room_users USING btree (user_id, room_id);


--
-- Name: rooms_created_by_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rooms_created_by_idx ON public.rooms USING btree (created_by);


--
-- Name: rooms_direct_pair_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX rooms_direct_pair_key ON public.rooms USING btree (direct_user_low, direct_user_high);


--
-- Name: rooms_direct_user_high_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rooms_direct_user_high_idx ON public.rooms USING btree (direct_user_high);


--
-- Name: rooms_public_name_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rooms_public_name_idx ON public.rooms USING btree (lower(name), id) WHERE (kind = 'public'::text);


--
-- Name: rooms_public_name_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rooms_public_name_trgm_idx ON public.rooms USING gin (lower(name) public.gin_trgm_ops) WHERE (kind = 'public'::text);


--
-- Name: sessions_expires_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_expires_at_idx ON public.sessions USING btree (expires_at);


--
-- Name: sessions_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_user_id_idx ON public.sessions USING btree (user_id);


--
-- Name: thread_follows_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX thread_follows_user_idx ON public.thread_follows USING btree (user_id, room_id);


--
-- Name: users_email_lower_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_lower_key ON public.users USING btree (lower(email));


--
-- Name: users_password_cost_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_password_cost_idx ON public.users USING btree (((SUBSTRING(password_hash FROM 5 FOR 2))::integer));


--
-- Name: users_username_lower_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_username_lower_key ON public.users USING btree (lower(username));


--
-- Name: message_reactions message_reactions_flag_message; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER message_reactions_flag_message AFTER INSERT ON public.message_reactions FOR EACH ROW EXECUTE FUNCTION public.flag_reacted_message();


--
-- Name: messages messages_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER messages_set_updated_at BEFORE UPDATE OF content, attachment, edited_at, deleted_at ON public.messages FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: room_users room_users_bump_membership_version; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER room_users_bump_membership_version AFTER INSERT OR DELETE ON public.room_users FOR EACH ROW EXECUTE FUNCTION public.bump_membership_version();


--
-- Name: room_users room_users_count_members; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER room_users_count_members AFTER INSERT OR DELETE ON public.room_users FOR EACH ROW EXECUTE FUNCTION public.count_room_members();


--
-- Name: rooms rooms_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER rooms_set_updated_at BEFORE UPDATE OF kind, name, description ON public.rooms FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: threads threads_flag_root; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER threads_flag_root AFTER INSERT ON public.threads FOR EACH ROW EXECUTE FUNCTION public.flag_thread_root();


--
-- Name: users users_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_set_updated_at BEFORE UPDATE OF email, username, display_name, password_hash ON public.users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: message_mentions message_mentions_room_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_mentions
    ADD CONSTRAINT message_mentions_room_id_message_id_fkey FOREIGN KEY (room_id, message_id) REFERENCES public.messages(room_id, id) ON DELETE CASCADE;


--
-- Name: message_mentions message_mentions_room_id_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_mentions
    ADD CONSTRAINT message_mentions_room_id_user_id_fkey FOREIGN KEY (room_id, user_id) REFERENCES public.room_users(room_id, user_id) ON DELETE CASCADE;


--
-- Name: message_pins message_pins_pinned_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_pins
    ADD CONSTRAINT message_pins_pinned_by_fkey FOREIGN KEY (pinned_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: message_pins message_pins_room_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_pins
    ADD CONSTRAINT message_pins_room_id_message_id_fkey FOREIGN KEY (room_id, message_id) REFERENCES public.messages(room_id, id) ON DELETE CASCADE;


--
-- Name: message_reactions message_reactions_room_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_reactions
    ADD CONSTRAINT message_reactions_room_id_message_id_fkey FOREIGN KEY (room_id, message_id) REFERENCES public.messages(room_id, id) ON DELETE CASCADE;


--
-- Name: message_reactions message_reactions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_reactions
    ADD CONSTRAINT message_reactions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: message_read_receipts message_read_receipts_room_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_read_receipts
    ADD CONSTRAINT message_read_receipts_room_id_message_id_fkey FOREIGN KEY (room_id, message_id) REFERENCES public.messages(room_id, id) ON DELETE CASCADE;


--
-- Name: message_read_receipts message_read_receipts_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_read_receipts
    ADD CONSTRAINT message_read_receipts_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: message_revisions message_revisions_edited_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_revisions
    ADD CONSTRAINT message_revisions_edited_by_fkey FOREIGN KEY (edited_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: message_revisions message_revisions_room_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_revisions
    ADD CONSTRAINT message_revisions_room_id_message_id_fkey FOREIGN KEY (room_id, message_id) REFERENCES public.messages(room_id, id) ON DELETE CASCADE;


--
-- Name: messages messages_deleted_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_deleted_by_fkey FOREIGN KEY (deleted_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: messages messages_reply_to_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_reply_to_fkey FOREIGN KEY (room_id, reply_to_id) REFERENCES public.messages(room_id, id) ON DELETE SET NULL (reply_to_id);


--
-- Name: messages messages_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: messages messages_sender_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_sender_id_fkey FOREIGN KEY (sender_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: messages messages_thread_root_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_thread_root_fkey FOREIGN KEY (room_id, thread_root_id) REFERENCES public.messages(room_id, id) ON DELETE CASCADE;


--
-- Name: room_events room_events_actor_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_events
    ADD CONSTRAINT room_events_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: room_events room_events_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_events
    ADD CONSTRAINT room_events_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: room_users room_users_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_users
    ADD CONSTRAINT room_users_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: room_users room_users_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_users
    ADD CONSTRAINT room_users_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: rooms rooms_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: rooms rooms_direct_user_high_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_direct_user_high_fkey FOREIGN KEY (direct_user_high) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: rooms rooms_direct_user_low_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_direct_user_low_fkey FOREIGN KEY (direct_user_low) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: thread_follows thread_follows_room_id_root_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.thread_follows
    ADD CONSTRAINT thread_follows_room_id_root_id_fkey FOREIGN KEY (room_id, root_id) REFERENCES public.threads(room_id, root_id) ON DELETE CASCADE;


--
-- Name: thread_follows thread_follows_room_id_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.thread_follows
    ADD CONSTRAINT thread_follows_room_id_user_id_fkey FOREIGN KEY (room_id, user_id) REFERENCES public.room_users(room_id, user_id) ON DELETE CASCADE;


--
-- Name: threads threads_room_id_root_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.threads
    ADD CONSTRAINT threads_room_id_root_id_fkey FOREIGN KEY (room_id, root_id) REFERENCES public.messages(room_id, id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict dbmate


--
-- Dbmate schema migrations
--

INSERT INTO public.schema_migrations (version) VALUES
    ('20261125120000'),
    ('20261125120100'),
    ('20261125120200'),
    ('20261125120300'),
    ('20261125120400'),
    ('20261125120500'),
    ('20261125120600'),
    ('20261125120700'),
    ('20261126123000'),
    ('20261126123100'),
    ('20261126150000'),
    ('20261126150100'),
    ('20261127100000'),
    ('20261127100100'),
    ('20261127110000'),
    ('20261127110100'),
    ('20261127110200'),
    ('20261127110300'),
    ('20261127120000'),
    ('20261127120100'),
    ('20261127120200'),
    ('20261128100000'),
    ('20261128100100'),
    ('20261128100200'),
    ('20261128100300'),
    ('20261128100400'),
    ('20261128100500'),
    ('20261128100600'),
    ('20261128100700'),
    ('20261128100800'),
    ('20261128100900');
