-- +goose Up
-- The events list (docs/api.md, GET /events) filters on fields of the body: they are copied into
-- columns at ingest (store.listFields, the first 200 characters of each) and indexed with the
-- received order, so a filtered page is a walk of one index, not a parse of every body.
ALTER TABLE events ADD COLUMN severity TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN repository TEXT NOT NULL DEFAULT '';   -- data.repo_url
ALTER TABLE events ADD COLUMN scan_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN file TEXT NOT NULL DEFAULT '';

-- The events stored before: a string field is copied, any other kind is ''. The body is a BLOB,
-- which SQLite's json functions would read as JSONB: it is cast to text.
UPDATE events SET
    severity   = CASE WHEN json_type(CAST(body AS TEXT), '$.data.severity') = 'text' THEN substr(json_extract(CAST(body AS TEXT), '$.data.severity'), 1, 200) ELSE '' END,
    repository = CASE WHEN json_type(CAST(body AS TEXT), '$.data.repo_url') = 'text' THEN substr(json_extract(CAST(body AS TEXT), '$.data.repo_url'), 1, 200) ELSE '' END,
    scan_id    = CASE WHEN json_type(CAST(body AS TEXT), '$.data.scan_id') = 'text' THEN substr(json_extract(CAST(body AS TEXT), '$.data.scan_id'), 1, 200) ELSE '' END,
    title      = CASE WHEN json_type(CAST(body AS TEXT), '$.data.title') = 'text' THEN substr(json_extract(CAST(body AS TEXT), '$.data.title'), 1, 200) ELSE '' END,
    file       = CASE WHEN json_type(CAST(body AS TEXT), '$.data.file') = 'text' THEN substr(json_extract(CAST(body AS TEXT), '$.data.file'), 1, 200) ELSE '' END
WHERE json_valid(CAST(body AS TEXT));

CREATE INDEX events_type_received ON events (type, received_at_ms, id);
CREATE INDEX events_severity_received ON events (severity, received_at_ms, id) WHERE severity <> '';
CREATE INDEX events_repository_received ON events (repository, received_at_ms, id) WHERE repository <> '';
CREATE INDEX events_scan_received ON events (scan_id, received_at_ms, id) WHERE scan_id <> '';
-- A filter on deliveries or text that drives the list looks its events up by id: with their
-- received time in the index, they are sorted without reading the rows.
CREATE INDEX events_id_received ON events (id, received_at_ms);
-- Events per delivery state: the failed ones (pending after a failed attempt) and the held ones.
CREATE INDEX deliveries_failed ON deliveries (event_id) WHERE state = 'pending' AND attempts > retry_base;
CREATE INDEX deliveries_dead_event ON deliveries (event_id) WHERE state = 'dead';

-- Free text on title and file: an FTS5 index of the two columns (words, case-insensitive, any
-- word prefix), kept by triggers. Its rows are the events' rowids; a VACUUM can renumber those,
-- so after one run: INSERT INTO events_text(events_text) VALUES ('rebuild') (docs/operations.md).
-- Diacritics are kept (é is not e), as the list's check of the events it walks (store.textMatches) keeps them.
CREATE VIRTUAL TABLE events_text USING fts5(title, file, content = 'events', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0');
INSERT INTO events_text (events_text) VALUES ('rebuild');
-- +goose StatementBegin
CREATE TRIGGER events_text_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_text (rowid, title, file) VALUES (new.rowid, new.title, new.file);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER events_text_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_text (events_text, rowid, title, file) VALUES ('delete', old.rowid, old.title, old.file);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER events_text_delete;
DROP TRIGGER events_text_insert;
DROP TABLE events_text;
DROP INDEX deliveries_dead_event;
DROP INDEX events_id_received;
DROP INDEX deliveries_failed;
DROP INDEX events_scan_received;
DROP INDEX events_repository_received;
DROP INDEX events_severity_received;
DROP INDEX events_type_received;
ALTER TABLE events DROP COLUMN file;
ALTER TABLE events DROP COLUMN title;
ALTER TABLE events DROP COLUMN scan_id;
ALTER TABLE events DROP COLUMN repository;
ALTER TABLE events DROP COLUMN severity;
