-- +goose Up
-- The events list (docs/api.md, GET /events) filters on fields of the body: they are copied into
-- columns at ingest (store.listFields, the first 200 characters of each) and indexed with the
-- received order, so a filtered page is a walk of one index, not a parse of every body.
ALTER TABLE events ADD COLUMN severity TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN repository TEXT COLLATE "C" NOT NULL DEFAULT '';   -- data.repo_url
ALTER TABLE events ADD COLUMN scan_id TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN title TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN file TEXT COLLATE "C" NOT NULL DEFAULT '';

-- The events stored before: a string field is copied, any other kind is ''. A body jsonb cannot
-- hold (a \u0000 escape) keeps ''.
-- +goose StatementBegin
CREATE FUNCTION pg_temp.cb_event_data(body bytea) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN convert_from(body, 'UTF8')::jsonb -> 'data';
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
-- +goose StatementEnd
UPDATE events SET
    severity   = CASE WHEN jsonb_typeof(x.d -> 'severity') = 'string' THEN left(x.d ->> 'severity', 200) ELSE '' END,
    repository = CASE WHEN jsonb_typeof(x.d -> 'repo_url') = 'string' THEN left(x.d ->> 'repo_url', 200) ELSE '' END,
    scan_id    = CASE WHEN jsonb_typeof(x.d -> 'scan_id') = 'string' THEN left(x.d ->> 'scan_id', 200) ELSE '' END,
    title      = CASE WHEN jsonb_typeof(x.d -> 'title') = 'string' THEN left(x.d ->> 'title', 200) ELSE '' END,
    file       = CASE WHEN jsonb_typeof(x.d -> 'file') = 'string' THEN left(x.d ->> 'file', 200) ELSE '' END
FROM (SELECT id, pg_temp.cb_event_data(body) AS d FROM events) x
WHERE x.id = events.id AND jsonb_typeof(x.d) = 'object';

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

-- Free text on title and file: words (punctuation splits them, as SQLite's FTS5 does),
-- case-insensitive, any word prefix. Stored, so checking an event walked costs no parsing.
ALTER TABLE events ADD COLUMN text_words tsvector GENERATED ALWAYS AS
    (to_tsvector('simple'::regconfig, regexp_replace(title || ' ' || file, '[[:punct:]]+', ' ', 'g'))) STORED;
CREATE INDEX events_text ON events USING gin (text_words);

-- +goose Down
DROP INDEX events_text;
ALTER TABLE events DROP COLUMN text_words;
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
