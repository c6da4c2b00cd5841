-- +goose Up
-- Events a digest collects, recorded at ingest in the event's transaction; run_id is the digest
-- run's event once a period has covered them (each event is in at most one run of a digest).
CREATE TABLE digest_items (
    digest         TEXT COLLATE "C" NOT NULL,
    event_id       TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    received_at_ms BIGINT NOT NULL,
    run_id         TEXT COLLATE "C",
    PRIMARY KEY (digest, event_id)
);
CREATE INDEX digest_items_open ON digest_items (digest, received_at_ms) WHERE run_id IS NULL;
CREATE INDEX digest_items_run ON digest_items (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX digest_items_event ON digest_items (event_id);

-- One row per configured digest: the schedule is a claimed row like a delivery, so a digest
-- fires once even with several replicas.
CREATE TABLE digests (
    name           TEXT COLLATE "C" PRIMARY KEY,
    schedule       TEXT COLLATE "C" NOT NULL,
    last_end_ms    BIGINT NOT NULL,
    next_run_at_ms BIGINT NOT NULL,
    lease_owner    TEXT COLLATE "C",
    lease_until_ms BIGINT
);

-- +goose Down
DROP TABLE digests;
DROP TABLE digest_items;
