package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// The findings (docs/events.md, "Findings"): scan_findings and finding_scans are written at
// ingest (ingest.go, pgbatch.go); a scan's comparison reads and writes the rest here.

// findingStatusSQL reads, for one scan and fingerprint, the scan's scope (from the scan
// context) and the finding's state in it.
const findingStatusSQL = `SELECT s.repo_url, f.state FROM scans s
	LEFT JOIN findings f ON f.repo_url = s.repo_url AND f.branch = COALESCE(s.branch, '') AND f.fingerprint = ?
	WHERE s.scan_id = ?`

// FindingStatus implements core.FindingStatusReader.
func (d *DB) FindingStatus(ctx context.Context, scanID, fingerprint string) (string, error) {
	var repo, state sql.NullString
	err := d.queryRow(ctx, d.r, findingStatusSQL, fingerprint, scanID).Scan(&repo, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return core.FindingStatusUnknown, nil
	}
	if err != nil {
		return "", unavailable("finding status", err)
	}
	switch {
	case repo.String == "":
		return core.FindingStatusUnknown, nil
	case !state.Valid:
		return core.FindingStatusNew, nil
	case state.String == core.FindingFixed:
		return core.FindingStatusRegressed, nil
	}
	return core.FindingStatusRecurring, nil
}

// DueScans implements core.FindingStore.
func (d *DB) DueScans(ctx context.Context, now time.Time, limit int) ([]core.DueScan, error) {
	rows, err := d.query(ctx, d.r, `SELECT scan_id, attempts FROM finding_scans WHERE done_at_ms = 0 AND due_at_ms <= ?
		ORDER BY due_at_ms, scan_id LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, unavailable("due scans", err)
	}
	defer rows.Close()
	var out []core.DueScan
	for rows.Next() {
		var s core.DueScan
		if err := rows.Scan(&s.ScanID, &s.Attempts); err != nil {
			return nil, unavailable("due scans", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("due scans", err)
	}
	return out, nil
}

// PostponeScan implements core.FindingStore.
func (d *DB) PostponeScan(ctx context.Context, scanID string, attempts int, due time.Time, lastErr string) error {
	_, err := d.exec(ctx, d.w, `UPDATE finding_scans SET attempts = ?, due_at_ms = ?, last_error = ? WHERE scan_id = ? AND done_at_ms = 0`,
		attempts, ms(due), lastErr, scanID)
	if err != nil {
		return unavailable("postpone scan", err)
	}
	return nil
}

const findingColumns = `repo_url, branch, fingerprint, title, file, line, severity, state,
	first_seen_ms, last_seen_ms, fixed_at_ms, first_scan_id, last_scan_id`

func scanFinding(rows *sql.Rows) (core.Finding, error) {
	var f core.Finding
	var first, last, fixed int64
	err := rows.Scan(&f.RepoURL, &f.Branch, &f.Fingerprint, &f.Title, &f.File, &f.Line, &f.Severity, &f.State,
		&first, &last, &fixed, &f.FirstScanID, &f.LastScanID)
	f.FirstSeen, f.LastSeen, f.FixedAt = fromMS(first), fromMS(last), fromMS(fixed)
	return f, err
}

const upsertFindingSQL = `INSERT INTO findings (` + findingColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (repo_url, branch, fingerprint) DO UPDATE SET
		title = excluded.title, file = excluded.file, line = excluded.line, severity = excluded.severity,
		state = excluded.state, first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms,
		fixed_at_ms = excluded.fixed_at_ms, first_scan_id = excluded.first_scan_id, last_scan_id = excluded.last_scan_id`

// errNotDue says a comparison is done, or another replica holds it.
var errNotDue = errors.New("comparison not due")

// CompareScan implements core.FindingStore: one transaction that holds the scan's
// finding_scans row (skipping it when another replica does) and its scope's finding_scopes
// row (waiting for it: comparisons of one scope run one at a time, in the order they get it).
func (d *DB) CompareScan(ctx context.Context, scanID string, fn func(*core.ScanComparison) (*core.ScanResult, error)) (bool, error) {
	var fnErr error
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		c := &core.ScanComparison{ScanID: scanID}
		var received int64
		err := d.queryRow(ctx, tx, `SELECT received_at_ms FROM finding_scans WHERE scan_id = ? AND done_at_ms = 0`+d.dialect.skipLocked, scanID).Scan(&received)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotDue
		}
		if err != nil {
			return err
		}
		c.CompletedAt = fromMS(received)
		var repo, branch sql.NullString
		err = d.queryRow(ctx, tx, `SELECT repo_url, branch FROM scans WHERE scan_id = ?`, scanID).Scan(&repo, &branch)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c.RepoURL, c.Branch = repo.String, branch.String
		if c.RepoURL != "" {
			if err := d.readComparison(ctx, tx, c); err != nil {
				return err
			}
		}
		res, err := fn(c)
		if err != nil {
			fnErr = err
			return err
		}
		if res == nil {
			res = &core.ScanResult{}
		}
		if err := d.writeComparison(ctx, tx, c, res); err != nil {
			return err
		}
		_, err = d.exec(ctx, tx, `UPDATE finding_scans SET done_at_ms = ?, repo_url = ?, branch = ?, previous_scan_id = ? WHERE scan_id = ?`,
			max(ms(time.Now()), 1), c.RepoURL, c.Branch, c.PreviousScanID, scanID)
		return err
	})
	switch {
	case errors.Is(err, errNotDue):
		return false, nil
	case fnErr != nil:
		return false, fnErr
	case err != nil:
		return false, unavailable("compare scan", err)
	}
	return true, nil
}

// readComparison locks c's scope and reads its previous scan, the scan's findings and the
// scope's findings that matter.
func (d *DB) readComparison(ctx context.Context, tx *sql.Tx, c *core.ScanComparison) error {
	if _, err := d.exec(ctx, tx, `INSERT INTO finding_scopes (repo_url, branch, last_scan_id, last_completed_at_ms)
		VALUES (?, ?, '', 0) ON CONFLICT (repo_url, branch) DO NOTHING`, c.RepoURL, c.Branch); err != nil {
		return err
	}
	var lastCompleted int64
	if err := d.queryRow(ctx, tx, `SELECT last_scan_id, last_completed_at_ms FROM finding_scopes WHERE repo_url = ? AND branch = ?`+d.dialect.forUpdate,
		c.RepoURL, c.Branch).Scan(&c.PreviousScanID, &lastCompleted); err != nil {
		return err
	}
	if lastCompleted > ms(c.CompletedAt) {
		c.Superseded = true // the scope has moved past this scan; nothing more to read
		return nil
	}
	rows, err := d.query(ctx, tx, `SELECT fingerprint, title, file, line, severity FROM scan_findings WHERE scan_id = ?
		ORDER BY received_at_ms, fingerprint`, c.ScanID)
	if err != nil {
		return err
	}
	for rows.Next() {
		r := core.FindingRecord{ScanID: c.ScanID}
		if err := rows.Scan(&r.Fingerprint, &r.Title, &r.File, &r.Line, &r.Severity); err != nil {
			rows.Close()
			return err
		}
		c.Findings = append(c.Findings, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = d.query(ctx, tx, `SELECT `+findingColumns+` FROM findings WHERE repo_url = ? AND branch = ?
		AND (state <> 'fixed' OR fingerprint IN (SELECT fingerprint FROM scan_findings WHERE scan_id = ?))
		ORDER BY first_seen_ms, fingerprint`, c.RepoURL, c.Branch, c.ScanID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			return err
		}
		c.Known = append(c.Known, f)
	}
	return rows.Err()
}

// writeComparison stores a comparison's result: the findings, the derived events with their
// deliveries, and the scope's new last scan.
func (d *DB) writeComparison(ctx context.Context, tx *sql.Tx, c *core.ScanComparison, res *core.ScanResult) error {
	if len(res.Findings) > 0 {
		up, err := d.prepare(ctx, tx, upsertFindingSQL)
		if err != nil {
			return err
		}
		defer up.Close()
		for _, f := range res.Findings {
			if _, err := up.exec(ctx, f.RepoURL, f.Branch, f.Fingerprint, f.Title, f.File, f.Line, f.Severity, f.State,
				ms(f.FirstSeen), ms(f.LastSeen), ms(f.FixedAt), f.FirstScanID, f.LastScanID); err != nil {
				return err
			}
		}
	}
	if len(res.Events) > 0 {
		if _, err := d.dialect.ingestTx(d, ctx, tx, res.Events); err != nil {
			return err
		}
	}
	if c.RepoURL == "" || c.Superseded {
		return nil
	}
	_, err := d.exec(ctx, tx, `UPDATE finding_scopes SET last_scan_id = ?, last_completed_at_ms = ? WHERE repo_url = ? AND branch = ?`,
		c.ScanID, ms(c.CompletedAt), c.RepoURL, c.Branch)
	return err
}

// PruneFindings implements core.FindingStore.
func (d *DB) PruneFindings(ctx context.Context, fixedBefore time.Time) (int, error) {
	cutoff := ms(fixedBefore)
	var n int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, `DELETE FROM findings WHERE state = 'fixed' AND fixed_at_ms < ?`, cutoff)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := d.exec(ctx, tx, `DELETE FROM scan_findings WHERE received_at_ms < ?`, cutoff); err != nil {
			return err
		}
		_, err = d.exec(ctx, tx, `DELETE FROM finding_scans WHERE done_at_ms > 0 AND received_at_ms < ?`, cutoff)
		return err
	})
	if err != nil {
		return 0, unavailable("prune findings", err)
	}
	return int(n), nil
}

// Findings lists the findings that f selects, most recently seen first (at most f.Limit,
// default core.DefaultPageSize, after f.After). Every filter is part of the query, so a page
// holds what it selects whatever else is stored. f.RepoURL is matched per event.RepoMatcher
// against the scopes' repositories (finding_scopes: one row per repository and branch); the
// findings are then read by their primary key's repository prefix.
func (d *DB) Findings(ctx context.Context, f core.FindingFilter) ([]core.Finding, error) {
	q := `SELECT ` + findingColumns + ` FROM findings WHERE 1 = 1`
	var args []any
	if f.RepoURL != "" {
		repos, err := d.findingRepos(ctx, f.RepoURL)
		if err != nil {
			return nil, unavailable("findings", err)
		}
		if len(repos) == 0 {
			return nil, nil
		}
		cond, a := d.dialect.inList("repo_url", repos)
		q += ` AND ` + cond
		args = append(args, a...)
	}
	if f.Branch != nil {
		q += ` AND branch = ?`
		args = append(args, *f.Branch)
	}
	switch f.State {
	case "":
	case core.FindingOpen: // open includes regressed: both are present in the last scan
		q += ` AND state <> 'fixed'`
	default:
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if k := f.After; k != nil {
		q += ` AND (last_seen_ms < ? OR (last_seen_ms = ? AND (repo_url, branch, fingerprint) > (?, ?, ?)))`
		args = append(args, ms(k.LastSeen), ms(k.LastSeen), k.RepoURL, k.Branch, k.Fingerprint)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = core.DefaultPageSize
	}
	q += ` ORDER BY last_seen_ms DESC, repo_url, branch, fingerprint LIMIT ?`
	args = append(args, limit)
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return nil, unavailable("findings", err)
	}
	defer rows.Close()
	var out []core.Finding
	for rows.Next() {
		x, err := scanFinding(rows)
		if err != nil {
			return nil, unavailable("findings", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("findings", err)
	}
	return out, nil
}

// findingRepos returns the repository URLs of the findings' scopes that query names
// (event.RepoMatcher).
func (d *DB) findingRepos(ctx context.Context, query string) ([]string, error) {
	rows, err := d.query(ctx, d.r, `SELECT DISTINCT repo_url FROM finding_scopes`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	same := event.RepoMatcher(query)
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		if same(r) {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// FindingScopes implements dashboard.Store: per repository and branch, its findings counted
// by state, most open (open and regressed) first, at most limit of them.
func (d *DB) FindingScopes(ctx context.Context, limit int) ([]core.FindingScope, error) {
	rows, err := d.query(ctx, d.r, `SELECT repo_url, branch,
			sum(CASE WHEN state = 'open' THEN 1 ELSE 0 END), sum(CASE WHEN state = 'regressed' THEN 1 ELSE 0 END),
			sum(CASE WHEN state = 'fixed' THEN 1 ELSE 0 END), max(last_seen_ms)
		FROM findings GROUP BY repo_url, branch
		ORDER BY sum(CASE WHEN state <> 'fixed' THEN 1 ELSE 0 END) DESC, repo_url, branch LIMIT ?`, limit)
	if err != nil {
		return nil, unavailable("finding scopes", err)
	}
	defer rows.Close()
	var out []core.FindingScope
	for rows.Next() {
		var sc core.FindingScope
		var last int64
		if err := rows.Scan(&sc.RepoURL, &sc.Branch, &sc.Open, &sc.Regressed, &sc.Fixed, &last); err != nil {
			return nil, unavailable("finding scopes", err)
		}
		sc.LastSeen = fromMS(last)
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("finding scopes", err)
	}
	return out, nil
}

// OpenFindings implements core.OpenFindingsReader.
func (d *DB) OpenFindings(ctx context.Context, limit int) ([]notify.OpenFindings, error) {
	rows, err := d.query(ctx, d.r, `SELECT repo_url, branch, count(*), min(first_seen_ms) FROM findings
		WHERE state <> 'fixed' GROUP BY repo_url, branch ORDER BY 4, 1, 2 LIMIT ?`, limit)
	if err != nil {
		return nil, unavailable("open findings", err)
	}
	defer rows.Close()
	var out []notify.OpenFindings
	for rows.Next() {
		var o notify.OpenFindings
		var oldest int64
		if err := rows.Scan(&o.RepoURL, &o.Branch, &o.Open, &oldest); err != nil {
			return nil, unavailable("open findings", err)
		}
		o.Oldest = fromMS(oldest)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("open findings", err)
	}
	return out, nil
}
