-- +goose Up
-- The events list's filters on deliveries (docs/api.md, GET /events: delivery=failed|dead, a
-- tenant's webhooks) walk the deliveries in the list's order: each delivery keeps its event's
-- received time (set at ingest), indexed with the event id, so a page of such events is read
-- from one index newest first instead of probing the deliveries of every event walked.
ALTER TABLE deliveries ADD COLUMN event_received_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET event_received_at_ms = COALESCE((SELECT e.received_at_ms FROM events e WHERE e.id = deliveries.event_id), 0);

DROP INDEX deliveries_failed;
DROP INDEX deliveries_dead_event;
CREATE INDEX deliveries_failed ON deliveries (event_received_at_ms, event_id) WHERE state = 'pending' AND attempts > retry_base;
CREATE INDEX deliveries_dead_event ON deliveries (event_received_at_ms, event_id) WHERE state = 'dead';
CREATE INDEX deliveries_target_event ON deliveries (target, event_received_at_ms, event_id);

-- +goose Down
DROP INDEX deliveries_target_event;
DROP INDEX deliveries_dead_event;
DROP INDEX deliveries_failed;
CREATE INDEX deliveries_failed ON deliveries (event_id) WHERE state = 'pending' AND attempts > retry_base;
CREATE INDEX deliveries_dead_event ON deliveries (event_id) WHERE state = 'dead';
ALTER TABLE deliveries DROP COLUMN event_received_at_ms;
