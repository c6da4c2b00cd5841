package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

const insertDigestItemSQL = `INSERT INTO digest_items (digest, event_id, received_at_ms) VALUES (?, ?, ?)`

// insertEventSQL stores one event (eventArgs) unless its id is stored: dialect.insertEvent. On
// SQLite the event is stored unlisted (listed = 0) and listed after the commit (listing.go).
const (
	insertEventSQL = `INSERT INTO events
	(id, type, occurred_at_ms, received_at_ms, sender_delivery, body, severity, repository, scan_id, title, file)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	insertUnlistedEventSQL = `INSERT INTO events
	(id, type, occurred_at_ms, received_at_ms, sender_delivery, body, severity, repository, scan_id, title, file, listed)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (id) DO NOTHING`
)

// eventArgs are insertEventSQL's arguments for ev.
func eventArgs(ev *event.Event) []any {
	sev, repo, scan, title, file := listFields(ev)
	return []any{ev.ID, ev.Type, ms(ev.Timestamp), ms(ev.ReceivedAt), ev.Delivery, ev.Raw, sev, repo, scan, title, file}
}

// upsertScanSQL records the scan context one new event carries (event.ScanOf): the first value
// given for each field is kept (docs/architecture.md, Storage).
const upsertScanSQL = `INSERT INTO scans (scan_id, repo_url, branch, commit_id, first_seen_ms, last_seen_ms)
	VALUES (?, NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), ?, ?)
	ON CONFLICT (scan_id) DO UPDATE SET
		repo_url = COALESCE(scans.repo_url, excluded.repo_url),
		branch = COALESCE(scans.branch, excluded.branch),
		commit_id = COALESCE(scans.commit_id, excluded.commit_id),
		first_seen_ms = min(scans.first_seen_ms, excluded.first_seen_ms),
		last_seen_ms = max(scans.last_seen_ms, excluded.last_seen_ms)`

// Ingest implements core.BusStore: each new event with its deliveries, digest items, group
// items and scan context, all in one transaction (dialect.ingest); on SQLite, in its ingest
// journal first, written to the database a few milliseconds later (journal.go).
func (d *DB) Ingest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	var dup []bool
	var err error
	if d.journal != nil {
		dup, err = d.journal.ingest(ctx, items)
	} else {
		dup, err = d.dialect.ingest(d, ctx, items)
	}
	if err != nil {
		return nil, unavailable("ingest", err)
	}
	return dup, nil
}

// insertScanFindingSQL records a finding an issue.critical event reports as a member of its
// scan; the same fingerprint again in the scan changes nothing (it counts once).
const insertScanFindingSQL = `INSERT INTO scan_findings (scan_id, fingerprint, title, file, line, severity, received_at_ms)
	VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scan_id, fingerprint) DO NOTHING`

// insertFindingScanSQL queues the comparison of a completed scan (once per scan_id).
const insertFindingScanSQL = `INSERT INTO finding_scans (scan_id, received_at_ms, due_at_ms)
	VALUES (?, ?, ?) ON CONFLICT (scan_id) DO NOTHING`

// sqliteIngest runs the statements prepared at open (writerStatements) in one transaction.
func (d *DB) sqliteIngest(ctx context.Context, items []core.IngestItem) ([]bool, error) {
	var dup []bool
	err := d.inTx(ctx, func(tx *sql.Tx) (err error) {
		dup, err = d.sqliteIngestTx(ctx, tx, items)
		return err
	})
	if err != nil {
		return nil, err
	}
	return dup, nil
}

// sqliteIngestTx is sqliteIngest in tx, binding to it only the statements the batch uses:
// binding one costs about a dozen allocations (database/sql's Tx.StmtContext), and most batches
// have no digest or group items (BENCHMARKS.md, "Allocation profiles of ingest and dispatch").
func (d *DB) sqliteIngestTx(ctx context.Context, tx *sql.Tx, items []core.IngestItem) ([]bool, error) {
	dup := make([]bool, len(items))
	ctx = statementContext(ctx)
	var bound []*stmt
	defer func() {
		for _, s := range bound {
			_ = s.Close()
		}
	}()
	stmts := map[string]*stmt{}
	use := func(q string) (*stmt, error) {
		if s := stmts[q]; s != nil {
			return s, nil
		}
		s, err := d.prepare(ctx, tx, q)
		if err != nil {
			return nil, err
		}
		stmts[q], bound = s, append(bound, s)
		return s, nil
	}
	exec := func(q string, args ...any) error {
		s, err := use(q)
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, args...)
		return err
	}
	for i, it := range items {
		ev := it.Event
		insEvent, err := use(insertUnlistedEventSQL)
		if err != nil {
			return nil, err
		}
		res, err := insEvent.exec(ctx, eventArgs(ev)...)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			dup[i] = true
			continue
		}
		d.lister.stored()
		if len(it.Deliveries) > 0 {
			insDelivery, err := use(insertDeliverySQL)
			if err != nil {
				return nil, err
			}
			if err := insertDeliveries(ctx, insDelivery, ev.ID, ev.ReceivedAt, it.Deliveries); err != nil {
				return nil, err
			}
		}
		for _, name := range it.Digests {
			if err := exec(insertDigestItemSQL, name, ev.ID, ms(ev.ReceivedAt)); err != nil {
				return nil, err
			}
		}
		if len(it.Groups) > 0 {
			insGroup, err := use(insertGroupItemSQL)
			if err != nil {
				return nil, err
			}
			if err := insertGroupItems(ctx, insGroup, ev, it.Groups); err != nil {
				return nil, err
			}
		}
		if sc, ok := event.ScanOf(ev); ok {
			if err := exec(upsertScanSQL, sc.ID, sc.RepoURL, sc.Branch, sc.Commit, ms(sc.FirstSeen), ms(sc.LastSeen)); err != nil {
				return nil, err
			}
		}
		if f := it.Finding; f != nil {
			if err := exec(insertScanFindingSQL, f.ScanID, f.Fingerprint, f.Title, f.File, f.Line, f.Severity, ms(ev.ReceivedAt)); err != nil {
				return nil, err
			}
		}
		if it.ScanCompleted != "" {
			if err := exec(insertFindingScanSQL, it.ScanCompleted, ms(ev.ReceivedAt), ms(it.CompareAt)); err != nil {
				return nil, err
			}
		}
	}
	return dup, nil
}

const insertDeliverySQL = `INSERT INTO deliveries
	(id, event_id, target, route, state, attempts, next_attempt_at_ms, lease_owner,
	 lease_until_ms, last_error, created_at_ms, updated_at_ms, event_received_at_ms)
	VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`

// insertDeliveries stores ds, the deliveries of the event eventID received at received (the
// events list's order, migration 00013).
func insertDeliveries(ctx context.Context, stmt *stmt, eventID string, received time.Time, ds []*core.Delivery) error {
	for _, dl := range ds {
		var owner, until any
		if dl.LeaseOwner != "" {
			owner, until = dl.LeaseOwner, ms(dl.LeaseUntil)
		}
		if _, err := stmt.exec(ctx, dl.ID, eventID, dl.Target, dl.Route, string(dl.State),
			ms(dl.NextAttemptAt), owner, until, dl.LastError, ms(dl.CreatedAt), ms(dl.CreatedAt), ms(received)); err != nil {
			return err
		}
	}
	return nil
}
