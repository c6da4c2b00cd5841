-- +goose Up
-- Events a digest collects, recorded at ingest in the event's transaction; run_id is the digest
-- run's event once a period has covered them (each event is in at most one run of a digest).
CREATE TABLE digest_items (
    digest         TEXT NOT NULL,
    event_id       TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    received_at_ms INTEGER NOT NULL,
    run_id         TEXT,
    PRIMARY KEY (digest, event_id)
);
CREATE INDEX digest_items_open ON digest_items (digest, received_at_ms) WHERE run_id IS NULL;
CREATE INDEX digest_items_run ON digest_items (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX digest_items_event ON digest_items (event_id);

-- One row per configured digest: the schedule is a claimed row like a delivery, so a digest
-- fires once even with several replicas.
CREATE TABLE digests (
    name           TEXT PRIMARY KEY,
    schedule       TEXT NOT NULL,
    last_end_ms    INTEGER NOT NULL,
    next_run_at_ms INTEGER NOT NULL,
    lease_owner    TEXT,
    lease_until_ms INTEGER
);

-- +goose Down
DROP TABLE digests;
DROP TABLE digest_items;
