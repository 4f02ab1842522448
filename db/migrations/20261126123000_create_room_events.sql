-- migrate:up
-- The room change log: every room-scoped change (a message sent, edited or deleted, a member
-- joining, leaving or changing role, the room edited, an application's own event) appends one
-- entry, in the same statement as the change, numbered per room under the room row lock, so
-- event_seq is gap-free in commit order. Live delivery follows it: a listener that missed a
-- publish reads "everything after event_seq N" and can never miss a committed change.
-- Indexes:
--   primary key (room_id, event_seq): reading a room's entries after a cursor (one room or
--     many at once), and the foreign key to rooms (ON DELETE CASCADE finds the room's log).
--   room_events_created_at_idx: retention pruning deletes the oldest entries first.
--   room_events_actor_id_idx: the foreign key to users (ON DELETE SET NULL must find the
--     rows without a scan); partial, since most application entries may have no actor.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Constant defaults: PostgreSQL 11+ adds these columns without rewriting the tables, and
-- existing rows are valid as they are (a log that starts empty at 0).
ALTER TABLE rooms
ADD COLUMN last_event_seq bigint NOT NULL DEFAULT 0,
ADD COLUMN pruned_through bigint NOT NULL DEFAULT 0;

ALTER TABLE room_users
ADD COLUMN joined_event_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE room_events (
    room_id uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    event_seq bigint NOT NULL,
    -- A lowercase dotted name: chatstore's own (message.created, member.joined, ...) or an
    -- application's (app.poll_closed).
    type text NOT NULL,
    -- Who made the change; NULL once that user is deleted (the entry itself stays).
    actor_id uuid REFERENCES users (id) ON DELETE SET NULL,
    -- What a listener needs to apply the change without reading anything else.
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, event_seq),
    CONSTRAINT room_events_event_seq_positive CHECK (event_seq > 0),
    CONSTRAINT room_events_type_format CHECK (
        char_length(type) <= 64 AND type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'
    ),
    CONSTRAINT room_events_payload_is_object CHECK (jsonb_typeof(payload) = 'object')
);

CREATE INDEX room_events_created_at_idx ON room_events (created_at);
CREATE INDEX room_events_actor_id_idx ON room_events (actor_id) WHERE actor_id IS NOT NULL;

COMMENT ON TABLE room_events IS
'Per-room change log; event_seq is gap-free per room in commit order (rooms.last_event_seq).';
COMMENT ON COLUMN rooms.last_event_seq IS
'Highest change-log event_seq handed out in this room (taken under the room row lock).';
COMMENT ON COLUMN rooms.pruned_through IS
'Change-log entries up to this event_seq may have been pruned; every later one exists.';
COMMENT ON COLUMN room_users.joined_event_seq IS
'event_seq of the member.joined entry that made the user a member (0: joined before the log).';

-- migrate:down
DROP TABLE room_events;
ALTER TABLE room_users DROP COLUMN joined_event_seq;
ALTER TABLE rooms DROP COLUMN pruned_through, DROP COLUMN last_event_seq;
