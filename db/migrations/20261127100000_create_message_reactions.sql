-- migrate:up
-- Reactions to messages: one row per (user, message, reaction key). Every add or remove
-- appends reaction.added / reaction.removed to the room's change log in the same statement,
-- under the room row lock (sql/reactions.sql).
-- Indexes:
--   primary key (room_id, message_id, reaction, user_id): one reaction per user, message
--     and key (adding twice stores one); the counts per key of one message or of a page of
--     messages walk it grouped by key; and the (room_id, message_id) foreign key to
--     messages (ON DELETE CASCADE finds a message's reactions).
--   message_reactions_reactors_idx: who reacted with one key to one message, oldest first,
--     keyset-paged on (created_at, user_id): a page reads only its own rows, however many
--     reacted.
--   message_reactions_user_id_idx: the foreign key to users (ON DELETE CASCADE must find a
--     deleted user's reactions without a scan).

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE message_reactions (
    room_id uuid NOT NULL,
    message_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- An emoji, a :shortcode: or +1: 1 to 32 code points, no whitespace or control
    -- characters (the same rule as chatstore.validation.reaction, code point for code point).
    reaction text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, message_id, reaction, user_id),
    FOREIGN KEY (room_id, message_id) REFERENCES messages (room_id, id) ON DELETE CASCADE,
    CONSTRAINT message_reactions_reaction_format CHECK (
        char_length(reaction) BETWEEN 1 AND 32
        AND reaction !~ '[\u0001-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]'
    )
);

CREATE INDEX message_reactions_reactors_idx
ON message_reactions (room_id, message_id, reaction, created_at, user_id);
CREATE INDEX message_reactions_user_id_idx ON message_reactions (user_id);

COMMENT ON TABLE message_reactions IS
'Who reacted to which message with which key (an emoji, a :shortcode:, +1), and when.';

-- migrate:down
DROP TABLE message_reactions;
