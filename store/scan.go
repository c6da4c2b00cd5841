package store

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// Scans implements core.DispatcherStore: the scan contexts recorded for the given scan ids
// (event.Scan, written at ingest), keyed by scan id; ids with no record are absent. Errors wrap
// core.ErrUnavailable.
func (d *DB) Scans(ctx context.Context, ids []string) (map[string]event.Scan, error) {
	out := make(map[string]event.Scan, len(ids))
	want := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != "" && len(id) <= event.MaxScanIDBytes && !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	for chunk := range slices.Chunk(want, maxListArgs) {
		cond, args := d.inList("scan_id", chunk)
		rows, err := d.query(ctx, d.r, `SELECT scan_id, repo_url, branch, commit_id, first_seen_ms, last_seen_ms
			FROM scans WHERE `+cond, args...)
		if err != nil {
			return nil, unavailable("load scans", err)
		}
		for rows.Next() {
			var s event.Scan
			var repo, branch, commit sql.NullString
			var first, last int64
			if err := rows.Scan(&s.ID, &repo, &branch, &commit, &first, &last); err != nil {
				rows.Close()
				return nil, unavailable("load scans", err)
			}
			s.RepoURL, s.Branch, s.Commit = repo.String, branch.String, commit.String
			s.FirstSeen, s.LastSeen = fromMS(first), fromMS(last)
			out[s.ID] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, unavailable("load scans", err)
		}
	}
	return out, nil
}

var _ core.SoleWriter = (*DB)(nil)

// SoleWriter implements core.SoleWriter: true for SQLite, which one process owns.
func (d *DB) SoleWriter() bool { return d.dialect.soleWriter }

// pruneScans deletes the scan contexts whose last event was received before cutoff: the
// events that could use them are pruned too (Prune).
func (d *DB) pruneScans(ctx context.Context, cutoff time.Time) error {
	if _, err := d.exec(ctx, d.w, `DELETE FROM scans WHERE last_seen_ms < ?`, ms(cutoff)); err != nil {
		return unavailable("prune scans", err)
	}
	return nil
}
