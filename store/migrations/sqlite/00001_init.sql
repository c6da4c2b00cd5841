-- +goose Up
-- Times are Unix milliseconds (UTC) in INTEGER columns, the same in both dialects.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,           -- Cortex's event id: the idempotency key
    type            TEXT NOT NULL,
    occurred_at_ms  INTEGER NOT NULL,           -- the envelope timestamp
    received_at_ms  INTEGER NOT NULL,
    sender_delivery TEXT NOT NULL DEFAULT '',   -- X-Cortex-Delivery of the request
    body            BLOB NOT NULL               -- the request body, byte for byte
);
CREATE INDEX events_received ON events (received_at_ms);

-- The delivery queue, the delivery log and the dead-letter list in one table.
CREATE TABLE deliveries (
    id                 TEXT PRIMARY KEY,        -- UUIDv7, stable across retries
    event_id           TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    target             TEXT NOT NULL,
    route              TEXT NOT NULL,
    state              TEXT NOT NULL,           -- pending | running | succeeded | dead | cancelled
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    lease_owner        TEXT,
    lease_until_ms     INTEGER,
    last_error         TEXT NOT NULL DEFAULT '',
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    UNIQUE (event_id, target)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at_ms) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until_ms) WHERE state = 'running';
CREATE INDEX deliveries_owner ON deliveries (lease_owner) WHERE state = 'running';
CREATE INDEX deliveries_target_due ON deliveries (target, next_attempt_at_ms) WHERE state IN ('pending', 'running');
CREATE INDEX deliveries_listing ON deliveries (created_at_ms);

CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    outcome       TEXT NOT NULL,                -- success | a failure reason
    status_code   INTEGER NOT NULL DEFAULT 0,   -- HTTP status or SMTP reply code
    error         TEXT NOT NULL DEFAULT '',
    response      TEXT NOT NULL DEFAULT ''      -- first 1 KiB of the answer
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
