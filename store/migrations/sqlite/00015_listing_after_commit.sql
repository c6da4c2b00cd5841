-- +goose Up
-- The events list's indexes are filled after the ingest commit (store/listing.go): an event is
-- stored with listed = 0, which keeps it out of the partial indexes below and the text index,
-- and a listing transaction sets listed = 1 on every event past the watermark, in batches. Each
-- index page is then written once per listing, not once per one-event ingest commit
-- (BENCHMARKS.md, "Ingest without the list's indexes"). Stored events are all listed (set
-- here, before the listing trigger exists: they are in the text index already) and the
-- watermark starts at the last rowid. The default is 0, so a row inserted by any other means
-- (a restore, a hand-written INSERT) is unlisted until a listing reaches it, never "listed"
-- without its text index row, whose later delete would corrupt the index.
ALTER TABLE events ADD COLUMN listed INTEGER NOT NULL DEFAULT 0;
UPDATE events SET listed = 1;
CREATE TABLE event_listing (
    one          INTEGER PRIMARY KEY CHECK (one = 1),
    listed_rowid INTEGER NOT NULL      -- every event up to this rowid is listed
);
INSERT INTO event_listing (one, listed_rowid) VALUES (1, (SELECT COALESCE(max(rowid), 0) FROM events));

DROP INDEX events_type_received;
DROP INDEX events_severity_received;
DROP INDEX events_repository_received;
DROP INDEX events_scan_received;
DROP INDEX events_id_received;
CREATE INDEX events_type_received ON events (type, received_at_ms, id) WHERE listed = 1;
CREATE INDEX events_severity_received ON events (severity, received_at_ms, id) WHERE severity <> '' AND listed = 1;
CREATE INDEX events_repository_received ON events (repository, received_at_ms, id) WHERE repository <> '' AND listed = 1;
CREATE INDEX events_scan_received ON events (scan_id, received_at_ms, id) WHERE scan_id <> '' AND listed = 1;
CREATE INDEX events_id_received ON events (id, received_at_ms) WHERE listed = 1;

-- The text index holds exactly the listed events: an FTS5 'delete' of a row it never indexed
-- would corrupt it.
DROP TRIGGER events_text_insert;
DROP TRIGGER events_text_delete;
-- +goose StatementBegin
CREATE TRIGGER events_text_list AFTER UPDATE OF listed ON events WHEN old.listed = 0 AND new.listed = 1 BEGIN
    INSERT INTO events_text (rowid, title, file) VALUES (new.rowid, new.title, new.file);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER events_text_delete AFTER DELETE ON events WHEN old.listed = 1 BEGIN
    INSERT INTO events_text (events_text, rowid, title, file) VALUES ('delete', old.rowid, old.title, old.file);
END;
-- +goose StatementEnd

-- +goose Down
-- Everything is listed first, so the indexes and the text index hold every event again.
UPDATE events SET listed = 1 WHERE listed = 0;
DROP TRIGGER events_text_delete;
DROP TRIGGER events_text_list;
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
DROP INDEX events_id_received;
DROP INDEX events_scan_received;
DROP INDEX events_repository_received;
DROP INDEX events_severity_received;
DROP INDEX events_type_received;
CREATE INDEX events_type_received ON events (type, received_at_ms, id);
CREATE INDEX events_severity_received ON events (severity, received_at_ms, id) WHERE severity <> '';
CREATE INDEX events_repository_received ON events (repository, received_at_ms, id) WHERE repository <> '';
CREATE INDEX events_scan_received ON events (scan_id, received_at_ms, id) WHERE scan_id <> '';
CREATE INDEX events_id_received ON events (id, received_at_ms);
DROP TABLE event_listing;
ALTER TABLE events DROP COLUMN listed;
