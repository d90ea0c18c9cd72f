-- KeyPool schema 2 (issue 13): usage per user per UTC day, one row per user and day, added to by the usage
-- flush of every instance. user_id is text whatever the type of user_profiles.id, and has no foreign key:
-- a flush of millions of rows must not wait on lookups, and usage outlives a deleted profile.
CREATE TABLE IF NOT EXISTS user_usage_daily (
    user_id           text   NOT NULL,
    day               date   NOT NULL,
    requests          bigint NOT NULL DEFAULT 0,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    reasoning_tokens  bigint NOT NULL DEFAULT 0,
    cached_tokens     bigint NOT NULL DEFAULT 0,
    total_tokens      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
-- The top users and the export of one day, without a scan of every day's rows. user_id last: ties are
-- ranked by id straight from the index (without it, a day of equal counts is sorted whole for a top 50).
CREATE INDEX IF NOT EXISTS user_usage_daily_by_tokens ON user_usage_daily (day, total_tokens DESC, user_id);
CREATE INDEX IF NOT EXISTS user_usage_daily_by_requests ON user_usage_daily (day, requests DESC, user_id);
