-- +goose Up
-- The events list's free text (docs/api.md, GET /events: q) matches a query word of 3 or more
-- characters as a prefix of a word of title or file. A prefix query ('word':*) makes the GIN
-- index read the postings of every word it starts and combine them without skipping: a rare
-- match that one common word takes part in ("avatar" in 6 % of events) cost tens of ms. Each
-- word's prefixes of 3 characters and more are stored as words of their own, marked '>' (no
-- word has it: punctuation splits them), so a prefix is one exact entry (BENCHMARKS.md,
-- "Event list at 1 000 000 events").
-- +goose StatementBegin
CREATE FUNCTION events_text_words(title text, file text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT w || array_to_tsvector(ARRAY(
        SELECT '>' || left(l, n) FROM unnest(tsvector_to_array(w)) l, generate_series(3, char_length(l)) n))
    FROM (SELECT to_tsvector('simple'::regconfig, regexp_replace(title || ' ' || file, '[[:punct:]]+', ' ', 'g')) AS w) x
$$;
-- +goose StatementEnd
DROP INDEX events_text;
ALTER TABLE events DROP COLUMN text_words;
ALTER TABLE events ADD COLUMN text_words tsvector GENERATED ALWAYS AS (events_text_words(title, file)) STORED;
CREATE INDEX events_text ON events USING gin (text_words);
-- The planner's statistics of the new column (autovacuum does not count a rewrite as changes).
ANALYZE events;

-- +goose Down
DROP INDEX events_text;
ALTER TABLE events DROP COLUMN text_words;
ALTER TABLE events ADD COLUMN text_words tsvector GENERATED ALWAYS AS
    (to_tsvector('simple'::regconfig, regexp_replace(title || ' ' || file, '[[:punct:]]+', ' ', 'g'))) STORED;
CREATE INDEX events_text ON events USING gin (text_words);
DROP FUNCTION events_text_words(text, text);
