-- KeyPool schema 1: the original Supabase system's tables, created when missing and extended when
-- present, so an application already running that system can put KeyPool on its own database unchanged.

-- Users and their key groups. An existing user_profiles (with its own columns, its id possibly a uuid)
-- only gains the columns KeyPool needs; api_key_group stays nullable for rows not assigned yet.
CREATE TABLE IF NOT EXISTS user_profiles (
    id            text        PRIMARY KEY,
    api_key_group integer     NULL,
    tier          text        NOT NULL DEFAULT 'free',
    created_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE user_profiles ADD COLUMN IF NOT EXISTS api_key_group integer NULL;
ALTER TABLE user_profiles ADD COLUMN IF NOT EXISTS tier text NOT NULL DEFAULT 'free';
ALTER TABLE user_profiles ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
-- Small (only unassigned rows): finds what the backfill still has to do without scanning every user.
CREATE INDEX IF NOT EXISTS user_profiles_without_api_key_group ON user_profiles (id) WHERE api_key_group IS NULL;

-- One row per key group: the original columns (total_users is the per-group user counter that
-- assignment updates in the same transaction as the user) plus KeyPool's usage counters.
CREATE TABLE IF NOT EXISTS api_key_stats (
    key_group       integer     PRIMARY KEY,
    total_users     bigint      NOT NULL DEFAULT 0,
    total_requests  bigint      NOT NULL DEFAULT 0,
    total_tokens    bigint      NOT NULL DEFAULT 0,
    last_request_at timestamptz NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS total_users bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS total_requests bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS total_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS last_request_at timestamptz NULL;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS prompt_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS completion_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS reasoning_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS cached_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS errors_4xx bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS errors_429 bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS errors_5xx bigint NOT NULL DEFAULT 0;
-- Set only by usage flushes: a row that exists for its user counter alone has recorded no usage.
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS usage_updated_at timestamptz NULL;

-- Upserts need a unique key_group; an original table may have it as a constraint, an index or not at all.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = 'api_key_stats'::regclass AND i.indisunique AND i.indnkeyatts = 1
          AND a.attname = 'key_group' AND i.indpred IS NULL)
    THEN
        CREATE UNIQUE INDEX api_key_stats_key_group_unique ON api_key_stats (key_group);
    END IF;
END
$$;

-- The counters start from the users themselves (an existing database may hold millions already).
UPDATE api_key_stats SET total_users = 0 WHERE total_users <> 0;
INSERT INTO api_key_stats (key_group, total_users)
SELECT api_key_group, count(*) FROM user_profiles WHERE api_key_group IS NOT NULL GROUP BY api_key_group
ON CONFLICT (key_group) DO UPDATE SET total_users = EXCLUDED.total_users;

-- Which groups have a key that works, written by the gateways at start, on reload and on revocation,
-- so code in the database assigns only groups the gateway can serve.
CREATE TABLE IF NOT EXISTS api_key_groups (
    key_group  integer     PRIMARY KEY,
    usable     boolean     NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The original function, now over usable groups only: fewest users, ties to the lowest group;
-- NULL when no gateway has said which groups are usable yet. Replaced, not kept, since the
-- original's answer may name a group without a key.
DROP FUNCTION IF EXISTS get_next_api_key_group();
CREATE FUNCTION get_next_api_key_group() RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT g.key_group
    FROM api_key_groups g
    LEFT JOIN api_key_stats s ON s.key_group = g.key_group
    WHERE g.usable
    ORDER BY COALESCE(s.total_users, 0), g.key_group
    LIMIT 1;
$$;

-- Per-user gateway keys: only the SHA-256 of each secret is stored.
CREATE TABLE IF NOT EXISTS gateway_keys (
    id         text        PRIMARY KEY,
    user_id    text        NOT NULL,
    key_hash   bytea       NOT NULL UNIQUE,
    prefix     text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz NULL
);
CREATE INDEX IF NOT EXISTS gateway_keys_user_id ON gateway_keys (user_id);
