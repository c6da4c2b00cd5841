-- +goose Up
-- Silences made at run time (API, dashboard, Slack's Mute button), shared by replicas: while
-- active (created_at_ms <= now < expires_at_ms and not ended), events their rule matches get
-- deliveries in state 'silenced' instead of being sent.
CREATE TABLE silences (
    id            TEXT COLLATE "C" PRIMARY KEY,          -- UUIDv7
    rule          TEXT COLLATE "C" NOT NULL,             -- the "when" rule, route rule language
    comment       TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_by    TEXT COLLATE "C" NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    ended_at_ms   BIGINT,                      -- set when ended early
    ended_by      TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX silences_expiry ON silences (expires_at_ms);

-- Acknowledgements of events (Slack's Acknowledge button); they go with their event.
CREATE TABLE acknowledgements (
    event_id  TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id   TEXT COLLATE "C" NOT NULL,
    user_name TEXT COLLATE "C" NOT NULL,
    source    TEXT COLLATE "C" NOT NULL,                 -- slack
    at_ms     BIGINT NOT NULL,
    PRIMARY KEY (event_id, source, user_id)
);

-- The audit log of changes people make: silences created and ended, events acknowledged and
-- muted. Kept when the event it names is pruned.
CREATE TABLE audit_log (
    id      TEXT COLLATE "C" PRIMARY KEY,                -- UUIDv7: ordered by time
    at_ms   BIGINT NOT NULL,
    actor   TEXT COLLATE "C" NOT NULL,
    action  TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,                   -- the silence's or the event's id
    detail  TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE acknowledgements;
DROP TABLE silences;
