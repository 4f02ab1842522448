-- migrate:up
-- Indexes:
--   room_topics_pkey: one topic per room, looked up by room; also the foreign key to rooms.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE room_topics (
    room_id uuid PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    topic text NOT NULL,
    CONSTRAINT room_topics_topic_length CHECK (char_length(topic) BETWEEN 1 AND 200)
);

-- migrate:down
DROP TABLE room_topics;
