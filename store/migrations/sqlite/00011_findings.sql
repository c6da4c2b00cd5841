-- +goose Up
-- Findings (docs/events.md, "Findings"), kept apart from the events: they outlive the events'
-- retention, and a finding fixed for longer than findings.retention is deleted.

-- The findings each scan's issue.critical events reported, once per fingerprint (the first
-- report kept), written at ingest in the event's transaction.
CREATE TABLE scan_findings (
    scan_id        TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    title          TEXT NOT NULL,
    file           TEXT NOT NULL,
    line           INTEGER NOT NULL,
    severity       TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (scan_id, fingerprint)
);
CREATE INDEX scan_findings_received ON scan_findings (received_at_ms);

-- One row per completed scan: its comparison with the scope's previous completed scan, queued
-- at ingest (due after findings.settle) and done once (done_at_ms > 0).
CREATE TABLE finding_scans (
    scan_id          TEXT PRIMARY KEY,
    received_at_ms   INTEGER NOT NULL,
    due_at_ms        INTEGER NOT NULL,
    done_at_ms       INTEGER NOT NULL DEFAULT 0,
    repo_url         TEXT NOT NULL DEFAULT '',
    branch           TEXT NOT NULL DEFAULT '',
    previous_scan_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX finding_scans_due ON finding_scans (due_at_ms) WHERE done_at_ms = 0;
CREATE INDEX finding_scans_scope ON finding_scans (repo_url, branch, done_at_ms);

-- Per repository and branch: the last completed scan compared (its row is locked while a
-- comparison of the scope runs, so they run one at a time).
CREATE TABLE finding_scopes (
    repo_url             TEXT NOT NULL,
    branch               TEXT NOT NULL,
    last_scan_id         TEXT NOT NULL,
    last_completed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (repo_url, branch)
);

-- Per scope and fingerprint: the finding's latest values and its state.
CREATE TABLE findings (
    repo_url      TEXT NOT NULL,
    branch        TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    title         TEXT NOT NULL,
    file          TEXT NOT NULL,
    line          INTEGER NOT NULL,
    severity      TEXT NOT NULL,
    state         TEXT NOT NULL, -- open | regressed | fixed
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    fixed_at_ms   INTEGER NOT NULL DEFAULT 0,
    first_scan_id TEXT NOT NULL,
    last_scan_id  TEXT NOT NULL,
    PRIMARY KEY (repo_url, branch, fingerprint)
);
CREATE INDEX findings_fixed ON findings (fixed_at_ms) WHERE state = 'fixed';

-- +goose Down
DROP TABLE findings;
DROP TABLE finding_scopes;
DROP TABLE finding_scans;
DROP TABLE scan_findings;
