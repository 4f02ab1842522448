-- An application's own queries, in chatstore's style, on chatstore's pool:
-- reached as store.queries.app.<query>(...).

-- name: list_public_rooms(limit)
-- Public rooms with their topic (NULL when none), newest first.
SELECT
    r.id,
    r.name,
    t.topic
FROM rooms AS r
LEFT JOIN room_topics AS t ON r.id = t.room_id
WHERE r.kind = 'public'
ORDER BY r.created_at DESC, r.id DESC
LIMIT :limit;

-- name: set_topic(room_id, topic)!
-- Sets or replaces a room's topic; returns the number of rows written (1).
INSERT INTO room_topics (room_id, topic)
VALUES (:room_id, :topic)
ON CONFLICT (room_id) DO UPDATE SET topic = excluded.topic;
