package store

import (
	"context"
	"time"
)

// RevokeSession implements dashboard.Store: it records that dashboard session id was signed out
// (refused until expires) and deletes the records that expired before now.
func (d *DB) RevokeSession(ctx context.Context, id string, expires, now time.Time) error {
	if _, err := d.exec(ctx, d.w, `INSERT INTO revoked_sessions (id, expires_at_ms) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms`, id, ms(expires)); err != nil {
		return unavailable("revoke session", err)
	}
	if _, err := d.exec(ctx, d.w, `DELETE FROM revoked_sessions WHERE expires_at_ms < ?`, ms(now)); err != nil {
		return unavailable("prune revoked sessions", err)
	}
	return nil
}

// SessionRevoked implements dashboard.Store: whether session id was signed out and its record has
// not expired at now.
func (d *DB) SessionRevoked(ctx context.Context, id string, now time.Time) (bool, error) {
	var n int
	if err := d.queryRow(ctx, d.r, `SELECT COUNT(*) FROM revoked_sessions WHERE id = ? AND expires_at_ms >= ?`, id, ms(now)).Scan(&n); err != nil {
		return false, unavailable("session revoked", err)
	}
	return n > 0, nil
}
