-- Optional (keypool db migrate --supabase-trigger): rows inserted into user_profiles without a key
-- group get the least-loaded usable one, so sign-ups that never pass through KeyPool (Supabase's own
-- handle_new_user() on auth.users, the app's inserts) are assigned at once. The app's own
-- handle_new_user() function is left alone: this is a trigger of that name on user_profiles.
--
-- The choice is atomic without a table lock: the chosen group's counter is raised only if it still
-- holds the count the choice was made on; otherwise another sign-up won that row and the choice is
-- made again (each statement of a READ COMMITTED loop sees the latest commits).
CREATE OR REPLACE FUNCTION keypool_assign_api_key_group() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    chosen integer;
    seen   bigint;
BEGIN
    LOOP
        SELECT g.key_group, COALESCE(s.total_users, 0) INTO chosen, seen
        FROM api_key_groups g
        LEFT JOIN api_key_stats s ON s.key_group = g.key_group
        WHERE g.usable
        ORDER BY COALESCE(s.total_users, 0), g.key_group
        LIMIT 1;
        IF chosen IS NULL THEN
            RETURN NEW; -- no gateway has published usable groups yet: KeyPool assigns at first use
        END IF;
        -- A plain UPDATE: when its WHERE fails on a row another sign-up just raised, it leaves no lock behind
        -- (ON CONFLICT DO UPDATE would keep one, and two sign-ups trying each other's rows would deadlock).
        UPDATE api_key_stats SET total_users = total_users + 1 WHERE key_group = chosen AND total_users = seen;
        IF FOUND THEN
            NEW.api_key_group := chosen;
            RETURN NEW;
        END IF;
        -- A usable group without a counter row yet (normally created with the usable groups).
        INSERT INTO api_key_stats (key_group) VALUES (chosen) ON CONFLICT (key_group) DO NOTHING;
    END LOOP;
END
$$;

DROP TRIGGER IF EXISTS handle_new_user ON user_profiles;
CREATE TRIGGER handle_new_user
    BEFORE INSERT ON user_profiles
    FOR EACH ROW WHEN (NEW.api_key_group IS NULL)
    EXECUTE FUNCTION keypool_assign_api_key_group();
