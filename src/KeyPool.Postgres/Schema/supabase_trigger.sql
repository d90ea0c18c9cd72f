-- Optional (keypool db migrate --supabase-trigger): rows inserted into user_profiles without a key
-- group get the least-loaded usable one, so sign-ups that never pass through KeyPool (Supabase's own
-- handle_new_user() on auth.users, the app's inserts) are assigned at once. The app's own
-- handle_new_user() function is left alone: this is a trigger of that name on user_profiles.
--
-- The choice is atomic without a table lock: the chosen group's counter is raised only if it still
-- holds the count the choice was made on; otherwise another sign-up won that row and the choice is
-- made again (each statement of a READ COMMITTED loop sees the latest commits). Meant for one row per
-- statement (sign-ups); bulk loads go through `keypool users import` or `keypool db backfill`.
CREATE OR REPLACE FUNCTION keypool_assign_api_key_group() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    chosen  integer;
    seen    bigint;
    missing boolean;
BEGIN
    LOOP
        SELECT g.key_group, COALESCE(s.total_users, 0), s.key_group IS NULL INTO chosen, seen, missing
        FROM api_key_groups g
        LEFT JOIN api_key_stats s ON s.key_group = g.key_group
        WHERE g.usable
        ORDER BY COALESCE(s.total_users, 0), g.key_group
        LIMIT 1;
        IF chosen IS NULL THEN
            RETURN NEW; -- no gateway has published usable groups yet: KeyPool assigns at first use
        END IF;
        IF missing THEN
            -- A usable group without a counter row yet (normally created with the usable groups). Only then:
            -- an insert that meets a row another sign-up is raising waits for it, and two could wait on each other.
            INSERT INTO api_key_stats (key_group) VALUES (chosen) ON CONFLICT (key_group) DO NOTHING;
            CONTINUE;
        END IF;
        -- Each attempt runs in its own subtransaction: an UPDATE that waited for another sign-up locks the
        -- row's newest version before finding its count changed, and only rolling the attempt back releases
        -- that lock (kept, two sign-ups trying each other's rows would deadlock).
        BEGIN
            UPDATE api_key_stats SET total_users = total_users + 1 WHERE key_group = chosen AND total_users = seen;
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'KP001', MESSAGE = 'lost the race for a key group counter';
            END IF;
            NEW.api_key_group := chosen;
            RETURN NEW;
        EXCEPTION WHEN SQLSTATE 'KP001' THEN
            NULL; -- choose again
        END;
    END LOOP;
END
$$;

DROP TRIGGER IF EXISTS handle_new_user ON user_profiles;
CREATE TRIGGER handle_new_user
    BEFORE INSERT ON user_profiles
    FOR EACH ROW WHEN (NEW.api_key_group IS NULL)
    EXECUTE FUNCTION keypool_assign_api_key_group();
