-- +goose Up
-- The ingest journal (store/journal.go): events are answered once appended to the journal file
-- and written here in batches. applied_seq is the sequence number of the last journal record
-- written here, moved in the same transaction as its rows, so a replay of the journal at open
-- skips what the database already holds (an event pruned since is not brought back). journal_id
-- is written at the head of the journal file (set at the first open): a journal of another
-- database, or of this one before a restore, is set aside, never replayed into it.
CREATE TABLE ingest_journal (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    applied_seq INTEGER NOT NULL,
    journal_id  TEXT NOT NULL DEFAULT ''
);
INSERT INTO ingest_journal (one, applied_seq) VALUES (1, 0);

-- +goose Down
DROP TABLE ingest_journal;
