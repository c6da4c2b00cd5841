-- +goose Up
-- The scan context (event.Scan): per data.scan_id, the repository, branch and commit the scan's
-- events named (the first value given is kept; NULL while none was) and when its first and last
-- events were received. Written at ingest in the events' transaction; rows whose last event is
-- older than the retention are pruned with the events.
CREATE TABLE scans (
    scan_id       TEXT COLLATE "C" PRIMARY KEY,
    repo_url      TEXT,
    branch        TEXT,
    commit_id     TEXT,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL
);
CREATE INDEX scans_last_seen ON scans (last_seen_ms);

-- +goose Down
DROP TABLE scans;
