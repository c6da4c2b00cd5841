-- +goose Up
-- Events a route holds back (grouping, throttling, quiet hours), recorded at ingest in the
-- event's transaction. group_id is the group event once the group has fired. member = 0: the
-- event only closes the group (close_on) and is not listed in it.
CREATE TABLE group_items (
    target         TEXT COLLATE "C" NOT NULL,
    route          TEXT COLLATE "C" NOT NULL,
    group_key      TEXT COLLATE "C" NOT NULL,
    event_id       TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    received_at_ms BIGINT NOT NULL,
    member         INTEGER NOT NULL,
    closes         INTEGER NOT NULL,
    group_id       TEXT COLLATE "C",
    PRIMARY KEY (target, route, event_id)
);
CREATE INDEX group_items_open ON group_items (target, route, group_key, received_at_ms) WHERE group_id IS NULL;
CREATE INDEX group_items_group ON group_items (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX group_items_event ON group_items (event_id);

-- Groups that fired: when, per key (a throttle allows one per interval).
CREATE TABLE group_runs (
    id          TEXT COLLATE "C" PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    target      TEXT COLLATE "C" NOT NULL,
    route       TEXT COLLATE "C" NOT NULL,
    group_key   TEXT COLLATE "C" NOT NULL,
    fired_at_ms BIGINT NOT NULL,
    events      INTEGER NOT NULL
);
CREATE INDEX group_runs_key ON group_runs (target, route, group_key, fired_at_ms);

-- +goose Down
DROP TABLE group_runs;
DROP TABLE group_items;
