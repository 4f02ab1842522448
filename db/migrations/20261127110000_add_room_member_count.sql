-- migrate:up
-- rooms.member_count: how many members each room has, so a page of the public room
-- directory (sql/rooms.sql public_rooms) reads one number per room instead of counting
-- room_users for each room of the page (thousands of rows for one busy room). A trigger
-- keeps it, not the queries: it also moves for memberships cascaded away when a user is
-- deleted, and for writes made outside chatstore. No indexes here (the trigger updates
-- rooms by primary key).
--
-- Every chatstore write that adds or removes a member already holds the room row lock
-- (it bumps last_event_seq), so the trigger's update of the same row adds no lock and no
-- new lock order. Deleting a user now also updates the row of each room they were in.
--
-- The trigger is created before the backfill: CREATE TRIGGER takes a lock on room_users
-- that waits for writers in flight and keeps new ones out until this migration commits,
-- so the backfill counts exactly the memberships that exist, and every later change is
-- counted by the trigger. The backfill reads room_users once; on a very large table it
-- can need more than the statement timeout below: raise it for that run.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- A constant default: PostgreSQL 11+ adds the column without rewriting the table.
ALTER TABLE rooms
ADD COLUMN member_count integer NOT NULL DEFAULT 0;

CREATE FUNCTION count_room_members() RETURNS trigger
LANGUAGE plpgsql AS $$
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

COMMENT ON FUNCTION count_room_members() IS
'AFTER INSERT OR DELETE trigger on room_users: keeps rooms.member_count.';

-- Row level, so a statement adding or removing many members counts each one.
CREATE TRIGGER room_users_count_members
AFTER INSERT OR DELETE ON room_users
FOR EACH ROW EXECUTE FUNCTION count_room_members();

UPDATE rooms AS r
SET member_count = counted.members
FROM (
    SELECT
        ru.room_id,
        count(*) AS members
    FROM room_users AS ru
    GROUP BY ru.room_id
) AS counted
WHERE r.id = counted.room_id;

COMMENT ON COLUMN rooms.member_count IS
'How many members the room has (kept by the room_users_count_members trigger).';

-- migrate:down
DROP TRIGGER room_users_count_members ON room_users;
DROP FUNCTION count_room_members();
ALTER TABLE rooms DROP COLUMN member_count;
