-- +goose Up
-- The SQLite schema in the Postgres dialect: same tables, columns and indexes. Times are Unix
-- milliseconds (UTC) in BIGINT columns, so both drivers compare and order them identically. Text
-- columns use the "C" collation: byte order, like SQLite's BINARY, whatever the database's locale.
CREATE TABLE events (
    id              TEXT COLLATE "C" PRIMARY KEY, -- Cortex's event id: the idempotency key
    type            TEXT COLLATE "C" NOT NULL,
    occurred_at_ms  BIGINT NOT NULL,              -- the envelope timestamp
    received_at_ms  BIGINT NOT NULL,
    sender_delivery TEXT COLLATE "C" NOT NULL DEFAULT '', -- X-Cortex-Delivery of the request
    body            BYTEA NOT NULL                -- the request body, byte for byte
);
CREATE INDEX events_received ON events (received_at_ms);

-- The delivery queue, the delivery log and the dead-letter list in one table.
CREATE TABLE deliveries (
    id                 TEXT COLLATE "C" PRIMARY KEY, -- UUIDv7, stable across retries
    event_id           TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    target             TEXT COLLATE "C" NOT NULL,
    route              TEXT COLLATE "C" NOT NULL,
    state              TEXT COLLATE "C" NOT NULL, -- pending | running | succeeded | dead | cancelled
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    lease_owner        TEXT COLLATE "C",
    lease_until_ms     BIGINT,
    last_error         TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at_ms      BIGINT NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    UNIQUE (event_id, target)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at_ms) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until_ms) WHERE state = 'running';
CREATE INDEX deliveries_owner ON deliveries (lease_owner) WHERE state = 'running';
CREATE INDEX deliveries_target_due ON deliveries (target, next_attempt_at_ms) WHERE state IN ('pending', 'running');
CREATE INDEX deliveries_listing ON deliveries (created_at_ms);

CREATE TABLE attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    started_at_ms BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    outcome       TEXT COLLATE "C" NOT NULL,              -- success | a failure reason
    status_code   INTEGER NOT NULL DEFAULT 0,             -- HTTP status or SMTP reply code
    error         TEXT COLLATE "C" NOT NULL DEFAULT '',
    response      TEXT COLLATE "C" NOT NULL DEFAULT ''    -- first 1 KiB of the answer
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
