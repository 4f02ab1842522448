-- migrate:up
-- One trigger function keeps every updated_at column honest: the database sets it, so no
-- caller can forget it or write a wrong value. No indexes here.

-- Give up rather than queue behind a long lock and block every query behind us.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION set_updated_at() IS 'BEFORE UPDATE trigger: stamps updated_at with now().';

-- migrate:down
DROP FUNCTION set_updated_at();
