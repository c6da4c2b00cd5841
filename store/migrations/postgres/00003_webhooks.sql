-- +goose Up
-- Webhooks registered through the management API: each is a webhook target named by its id.
CREATE TABLE webhooks (
    id            TEXT COLLATE "C" PRIMARY KEY,   -- wh_…
    account       TEXT COLLATE "C" NOT NULL,
    url           TEXT COLLATE "C" NOT NULL,
    events        TEXT COLLATE "C" NOT NULL,      -- JSON array of event types, or ["*"]
    secret        TEXT COLLATE "C" NOT NULL,      -- signs each body; never returned by the API
    active        INTEGER NOT NULL,
    description   TEXT COLLATE "C" NOT NULL DEFAULT '',
    version       INTEGER NOT NULL DEFAULT 1,     -- the ETag; bumped by every change
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account, created_at_ms);

-- A manual retry gives a dead delivery a fresh budget of attempts: max_attempts counts from here.
ALTER TABLE deliveries ADD COLUMN retry_base INTEGER NOT NULL DEFAULT 0;
-- Delivery logs per target (a webhook's), newest first.
CREATE INDEX deliveries_target_listing ON deliveries (target, created_at_ms);

-- +goose Down
DROP INDEX deliveries_target_listing;
ALTER TABLE deliveries DROP COLUMN retry_base;
DROP TABLE webhooks;
