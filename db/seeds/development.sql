-- Development data for chatstore. Load with `just seed`; running it again adds nothing.
--
-- Users (password = "<username>-dev-password", bcrypt cost 10; a login with BCRYPT_ROUNDS
-- above 10 upgrades the stored hash):
--   alice, bob, carol, dave, erin  (email <username>@example.com)
-- (A direct room stores its pair smaller uuid first, as the rooms_direct_pair_ordered check asks.)
-- Rooms: #general (public, 5 members), #random (public, 3), #secret-plans (private, 2),
--   and direct rooms alice<->bob and carol<->dave.
-- Messages: 300 across the rooms, every kind, some edited (with revisions), some soft
--   deleted, read receipts and read markers partway through each room.
--
-- Every row has a fixed id and is inserted with ON CONFLICT DO NOTHING, which is what makes
-- a second run a no-op.

BEGIN;

INSERT INTO users (id, email, username, display_name, password_hash)
VALUES
    ('00000000-0000-4000-8000-00000000a11c', 'alice@example.com', 'alice', 'Alice Liddell',
     '$2b$10$Jykvq.MB7FAjoHctaK5pfuqTnYVmJf4D6mXYLK41mvItrBSY4Jb1e'),
    ('00000000-0000-4000-8000-000000000b0b', 'bob@example.com', 'bob', 'Bob Builder',
     '$2b$10$a65Ml0cpoMeUGWi7E525uOcZ616UDuFGmiBJ7LfNkB24UWaDruHIO'),
    ('00000000-0000-4000-8000-0000000ca201', 'carol@example.com', 'carol', 'Carol Danvers',
     '$2b$10$NZbIICjWNe7sEqnc/8blMuLzoKkqhFhW6zFqYByTeZAIrkh1KSzOa'),
    ('00000000-0000-4000-8000-0000000da7e0', 'dave@example.com', 'dave', 'Dave Lister',
     '$2b$10$CnWJu8y9MR33cUEghYe7BeE1dZ1e/8SO2bBo8Ub3HUIstG37y/aia'),
    ('00000000-0000-4000-8000-0000000e2140', 'erin@example.com', 'erin', 'Erin Brockovich',
     '$2b$10$GRfwTAh1duseiBhMzb95UeWVmnPV3Swn4Rmf/24J0NrD5aVJ/SiXu')
ON CONFLICT DO NOTHING;

INSERT INTO rooms (id, kind, name, description, created_by, direct_user_low, direct_user_high)
VALUES
    ('00000000-0000-4000-9000-000000000001', 'public', 'general', 'Everyone, everything',
     '00000000-0000-4000-8000-00000000a11c', NULL, NULL),
    ('00000000-0000-4000-9000-000000000002', 'public', 'random', 'Off-topic',
     '00000000-0000-4000-8000-000000000b0b', NULL, NULL),
    ('00000000-0000-4000-9000-000000000003', 'private', 'secret-plans', 'Invite only',
     '00000000-0000-4000-8000-000000000b0b', NULL, NULL),
    ('00000000-0000-4000-9000-000000000004', 'direct', NULL, NULL,
     '00000000-0000-4000-8000-00000000a11c',
     '00000000-0000-4000-8000-000000000b0b', '00000000-0000-4000-8000-00000000a11c'),
    ('00000000-0000-4000-9000-000000000005', 'direct', NULL, NULL,
     '00000000-0000-4000-8000-0000000ca201',
     '00000000-0000-4000-8000-0000000ca201', '00000000-0000-4000-8000-0000000da7e0')
ON CONFLICT DO NOTHING;

-- room, member, role, joined days ago
INSERT INTO room_users (room_id, user_id, role, joined_at)
SELECT m.room_id::uuid, m.user_id::uuid, m.role, now() - make_interval(days => m.days_ago)
FROM (
    VALUES
        ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-00000000a11c', 'owner', 30),
        ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-000000000b0b', 'admin', 29),
        ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-0000000ca201', 'member', 28),
        ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-0000000da7e0', 'member', 27),
        ('00000000-0000-4000-9000-000000000001', '00000000-0000-4000-8000-0000000e2140', 'member', 26),
        ('00000000-0000-4000-9000-000000000002', '00000000-0000-4000-8000-000000000b0b', 'owner', 25),
        ('00000000-0000-4000-9000-000000000002', '00000000-0000-4000-8000-00000000a11c', 'member', 25),
        ('00000000-0000-4000-9000-000000000002', '00000000-0000-4000-8000-0000000e2140', 'member', 24),
        ('00000000-0000-4000-9000-000000000003', '00000000-0000-4000-8000-000000000b0b', 'owner', 20),
        ('00000000-0000-4000-9000-000000000003', '00000000-0000-4000-8000-0000000ca201', 'admin', 20),
        ('00000000-0000-4000-9000-000000000004', '00000000-0000-4000-8000-00000000a11c', 'member', 15),
        ('00000000-0000-4000-9000-000000000004', '00000000-0000-4000-8000-000000000b0b', 'member', 15),
        ('00000000-0000-4000-9000-000000000005', '00000000-0000-4000-8000-0000000ca201', 'member', 10),
        ('00000000-0000-4000-9000-000000000005', '00000000-0000-4000-8000-0000000da7e0', 'member', 10)
) AS m (room_id, user_id, role, days_ago)
ON CONFLICT DO NOTHING;

-- Messages: each room gets `total` messages, senders taking turns among its members, one
-- minute apart and ending an hour ago. Every 25th is an image, every 40th a file, every 17th
-- edited once, every 23rd soft deleted.
WITH plan (room_id, total) AS (
    VALUES
        ('00000000-0000-4000-9000-000000000001'::uuid, 120),
        ('00000000-0000-4000-9000-000000000002'::uuid, 80),
        ('00000000-0000-4000-9000-000000000003'::uuid, 40),
        ('00000000-0000-4000-9000-000000000004'::uuid, 40),
        ('00000000-0000-4000-9000-000000000005'::uuid, 20)
),

members AS (
    SELECT
        room_id,
        user_id,
        (row_number() OVER (PARTITION BY room_id ORDER BY joined_at, user_id)) - 1 AS slot,
        count(*) OVER (PARTITION BY room_id) AS member_count
    FROM room_users
),

numbered AS (
    SELECT p.room_id, p.total, s.n
    FROM plan AS p
    CROSS JOIN LATERAL generate_series(1, p.total) AS s (n)
)

INSERT INTO messages (
    id, room_id, seq, sender_id, kind, content, attachment, created_at, updated_at,
    edited_at, edit_count, deleted_at, deleted_by
)
SELECT
    md5('seed-message:' || x.room_id || ':' || x.n)::uuid,
    x.room_id,
    x.n,
    m.user_id,
    CASE WHEN x.n % 25 = 0 THEN 'image' WHEN x.n % 40 = 0 THEN 'file' ELSE 'text' END,
    CASE
        WHEN x.n % 25 = 0 THEN 'a picture from the trip'
        WHEN x.n % 40 = 0 THEN ''
        WHEN x.n % 17 = 0 THEN 'message ' || x.n || ' (edited: fixed a typo)'
        ELSE 'message ' || x.n || ' in this room'
    END,
    CASE
        WHEN x.n % 25 = 0 THEN jsonb_build_object(
            'url', 'https://files.example.com/photo-' || x.n || '.jpg',
            'name', 'photo-' || x.n || '.jpg', 'mime_type', 'image/jpeg', 'size', 180000 + x.n
        )
        WHEN x.n % 40 = 0 THEN jsonb_build_object(
            'url', 'https://files.example.com/notes-' || x.n || '.pdf',
            'name', 'notes-' || x.n || '.pdf', 'mime_type', 'application/pdf', 'size', 52000
        )
    END,
    now() - make_interval(mins => 60 + x.total - x.n),
    now() - make_interval(mins => 60 + x.total - x.n),
    CASE WHEN x.n % 17 = 0 THEN now() - make_interval(mins => 59 + x.total - x.n) END,
    CASE WHEN x.n % 17 = 0 THEN 1 ELSE 0 END,
    CASE WHEN x.n % 23 = 0 THEN now() - make_interval(mins => 58 + x.total - x.n) END,
    CASE WHEN x.n % 23 = 0 THEN m.user_id END
FROM numbered AS x
INNER JOIN members AS m ON m.room_id = x.room_id AND m.slot = x.n % m.member_count
ON CONFLICT DO NOTHING;

-- The original text of every edited message, kept as revision 1.
INSERT INTO message_revisions (
    room_id, message_id, revision, content, edited_by, written_at, replaced_at
)
SELECT
    room_id,
    id,
    1,
    replace(content, ' (edited: fixed a typo)', ' (with a tpyo)'),
    sender_id,
    created_at,
    edited_at
FROM messages
WHERE edit_count = 1 AND room_id IN (
    SELECT id FROM rooms WHERE id::text LIKE '00000000-0000-4000-9000-%'
)
ON CONFLICT DO NOTHING;

-- Rooms know their newest seq, as the library's send path keeps them.
UPDATE rooms AS r
SET last_seq = greatest(r.last_seq, s.max_seq), last_message_at = s.last_at
FROM (
    SELECT room_id, max(seq) AS max_seq, max(created_at) AS last_at
    FROM messages
    GROUP BY room_id
) AS s
WHERE s.room_id = r.id AND r.last_seq < s.max_seq;

-- Read markers: each member has read three quarters of the room, and has a receipt for
-- the message the marker points at (only moves forward, like the library).
UPDATE room_users AS ru
SET
    last_read_seq = greatest(ru.last_read_seq, (r.last_seq * 3) / 4),
    last_read_at = coalesce(ru.last_read_at, now() - interval '30 minutes')
FROM rooms AS r
WHERE r.id = ru.room_id AND ru.last_read_seq < (r.last_seq * 3) / 4;

INSERT INTO message_read_receipts (room_id, message_id, user_id, read_at)
SELECT ru.room_id, msg.id, ru.user_id, ru.last_read_at
FROM room_users AS ru
INNER JOIN messages AS msg ON msg.room_id = ru.room_id AND msg.seq = ru.last_read_seq
ON CONFLICT DO NOTHING;

COMMIT;
