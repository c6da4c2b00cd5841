-- +goose Up
-- A scan whose comparison fails is tried again with backoff (core.FindingsRunner): its
-- finding_scans row counts the failed attempts and keeps the last error, and due_at_ms is moved
-- to the next attempt's time (docs/events.md, "Findings").
ALTER TABLE finding_scans ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE finding_scans ADD COLUMN last_error TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE finding_scans DROP COLUMN last_error;
ALTER TABLE finding_scans DROP COLUMN attempts;
