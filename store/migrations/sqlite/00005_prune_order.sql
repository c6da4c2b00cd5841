-- +goose Up
-- Pruning walks events oldest first in batches, keyed on (received_at_ms, id).
CREATE INDEX events_received_id ON events (received_at_ms, id);
DROP INDEX events_received;

-- +goose Down
CREATE INDEX events_received ON events (received_at_ms);
DROP INDEX events_received_id;
