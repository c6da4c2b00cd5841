-- +goose Up
-- Dashboard sessions signed out before they expired. A session cookie is signed, not stored, so
-- signing out records its id here: every replica refuses it, after a restart too, until
-- expires_at_ms, when no copy of the cookie can still be valid and the row is deleted.
CREATE TABLE revoked_sessions (
    id            TEXT PRIMARY KEY,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at_ms);

-- +goose Down
DROP TABLE revoked_sessions;
