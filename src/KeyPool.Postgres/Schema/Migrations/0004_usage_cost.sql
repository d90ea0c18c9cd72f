-- KeyPool schema 4: money. cost_in_usd_ticks summed as integers (1 USD = 10^10 ticks) per key group and per user
-- per day, the part estimated from the price table (upstreams that send no cost), and per key group what cached
-- tokens saved. New columns have defaults, so existing rows and older instances keep working (Supabase-compatible:
-- plain ALTER TABLE … ADD COLUMN IF NOT EXISTS, no extension).
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS cost_ticks bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS estimated_cost_ticks bigint NOT NULL DEFAULT 0;
ALTER TABLE api_key_stats ADD COLUMN IF NOT EXISTS saved_ticks bigint NOT NULL DEFAULT 0;
ALTER TABLE user_usage_daily ADD COLUMN IF NOT EXISTS cost_ticks bigint NOT NULL DEFAULT 0;
ALTER TABLE user_usage_daily ADD COLUMN IF NOT EXISTS estimated_cost_ticks bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS user_usage_daily_by_cost ON user_usage_daily (day, cost_ticks DESC, user_id);
