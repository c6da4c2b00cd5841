-- +goose Up
-- Dead deliveries per target (metrics, listings of dead letters) without reading the history.
CREATE INDEX deliveries_dead ON deliveries (target, created_at_ms) WHERE state = 'dead';

-- +goose Down
DROP INDEX deliveries_dead;
