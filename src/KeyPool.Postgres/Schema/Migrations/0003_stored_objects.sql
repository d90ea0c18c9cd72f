-- KeyPool schema 3: which team holds each object the upstream stores (responses for 30 days, deferred completions for
-- 24 hours) and the end user it belongs to, shared by every instance so a follow-up on any of them goes to that team.
-- One row per object, written in batches; expired rows are purged by expires_at, oldest first. user_id is text
-- without a foreign key, like user_usage_daily: millions of rows must not wait on lookups.
CREATE TABLE IF NOT EXISTS stored_objects (
    id         text        PRIMARY KEY,
    kind       smallint    NOT NULL,
    team       text        NOT NULL,
    key_group  integer     NOT NULL,
    user_id    text        NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS stored_objects_expires_at ON stored_objects (expires_at);
