package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cortexbridge/cortex-bridge/core"
)

const silenceColumns = `id, rule, comment, created_by, created_at_ms, expires_at_ms, COALESCE(ended_at_ms, 0), ended_by`

func scanSilence(row interface{ Scan(...any) error }) (*core.Silence, error) {
	s := &core.Silence{}
	var created, expires, ended int64
	if err := row.Scan(&s.ID, &s.When, &s.Comment, &s.CreatedBy, &created, &expires, &ended, &s.EndedBy); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt, s.EndedAt = fromMS(created), fromMS(expires), fromMS(ended)
	return s, nil
}

const insertAuditSQL = `INSERT INTO audit_log (id, at_ms, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)`

func (d *DB) insertAudit(ctx context.Context, tx *sql.Tx, a core.AuditEntry) error {
	_, err := d.exec(ctx, tx, insertAuditSQL, a.ID, ms(a.At), a.Actor, a.Action, a.Subject, a.Detail)
	return err
}

// CreateSilence stores s and the audit entries in one transaction.
func (d *DB) CreateSilence(ctx context.Context, s *core.Silence, audit ...core.AuditEntry) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := d.exec(ctx, tx, `INSERT INTO silences (id, rule, comment, created_by, created_at_ms, expires_at_ms, ended_by)
			VALUES (?, ?, ?, ?, ?, ?, '')`, s.ID, s.When, s.Comment, s.CreatedBy, ms(s.CreatedAt), ms(s.ExpiresAt)); err != nil {
			return err
		}
		for _, a := range audit {
			if err := d.insertAudit(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return unavailable("create silence", err)
	}
	return nil
}

// EndSilence ends silence id at a.At (recording a.Actor as who ended it) and stores the audit
// entry a, in one transaction. It returns core.ErrNotFound when there is no such silence and
// core.ErrConflict when it had already ended or expired (nothing is written then).
func (d *DB) EndSilence(ctx context.Context, id string, a core.AuditEntry) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := d.exec(ctx, tx, `UPDATE silences SET ended_at_ms = ?, ended_by = ?
			WHERE id = ? AND ended_at_ms IS NULL AND expires_at_ms > ?`, ms(a.At), a.Actor, id, ms(a.At))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			switch err := d.queryRow(ctx, tx, `SELECT 1 FROM silences WHERE id = ?`, id).Scan(&one); {
			case errors.Is(err, sql.ErrNoRows):
				return core.ErrNotFound
			case err != nil:
				return err
			}
			return core.ErrConflict
		}
		return d.insertAudit(ctx, tx, a)
	})
	if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrConflict) {
		return err
	}
	if err != nil {
		return unavailable("end silence", err)
	}
	return nil
}

// Silence returns silence id, or core.ErrNotFound.
func (d *DB) Silence(ctx context.Context, id string) (*core.Silence, error) {
	s, err := scanSilence(d.queryRow(ctx, d.r, `SELECT `+silenceColumns+` FROM silences WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, unavailable("get silence", err)
	}
	return s, nil
}

// Silences lists silences, newest first: those active at f.ActiveAt, or all when it is zero.
func (d *DB) Silences(ctx context.Context, f core.SilenceFilter) ([]*core.Silence, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = core.DefaultPageSize
	}
	q, args := `SELECT `+silenceColumns+` FROM silences`, []any{}
	if !f.ActiveAt.IsZero() {
		q += ` WHERE ended_at_ms IS NULL AND expires_at_ms > ? AND created_at_ms <= ?`
		args = append(args, ms(f.ActiveAt), ms(f.ActiveAt))
	}
	rows, err := d.query(ctx, d.r, q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, unavailable("list silences", err)
	}
	defer rows.Close()
	var out []*core.Silence
	for rows.Next() {
		s, err := scanSilence(rows)
		if err != nil {
			return nil, unavailable("list silences", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list silences", err)
	}
	return out, nil
}

// Acknowledge records ack (once per event, source and user: a second click moves its time) and
// the audit entry a in one transaction. It returns core.ErrNotFound when the event is not stored.
func (d *DB) Acknowledge(ctx context.Context, ack core.Acknowledgement, a core.AuditEntry) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		switch err := d.queryRow(ctx, tx, `SELECT 1 FROM events WHERE id = ?`, ack.EventID).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return core.ErrNotFound
		case err != nil:
			return err
		}
		if _, err := d.exec(ctx, tx, `INSERT INTO acknowledgements (event_id, user_id, user_name, source, at_ms) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (event_id, source, user_id) DO UPDATE SET user_name = excluded.user_name, at_ms = excluded.at_ms`,
			ack.EventID, ack.UserID, ack.UserName, ack.Source, ms(ack.At)); err != nil {
			return err
		}
		return d.insertAudit(ctx, tx, a)
	})
	if errors.Is(err, core.ErrNotFound) {
		return err
	}
	if err != nil {
		return unavailable("acknowledge", err)
	}
	return nil
}

// Acknowledgements lists the acknowledgements of event eventID, oldest first.
func (d *DB) Acknowledgements(ctx context.Context, eventID string) ([]core.Acknowledgement, error) {
	rows, err := d.query(ctx, d.r, `SELECT event_id, user_id, user_name, source, at_ms FROM acknowledgements
		WHERE event_id = ? ORDER BY at_ms, user_id`, eventID)
	if err != nil {
		return nil, unavailable("list acknowledgements", err)
	}
	defer rows.Close()
	var out []core.Acknowledgement
	for rows.Next() {
		var a core.Acknowledgement
		var at int64
		if err := rows.Scan(&a.EventID, &a.UserID, &a.UserName, &a.Source, &at); err != nil {
			return nil, unavailable("list acknowledgements", err)
		}
		a.At = fromMS(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list acknowledgements", err)
	}
	return out, nil
}

// AuditLog lists up to limit audit entries, newest first; subject "" lists every subject's.
func (d *DB) AuditLog(ctx context.Context, subject string, limit int) ([]core.AuditEntry, error) {
	if limit <= 0 {
		limit = core.DefaultPageSize
	}
	q, args := `SELECT id, at_ms, actor, action, subject, detail FROM audit_log`, []any{}
	if subject != "" {
		q, args = q+` WHERE subject = ?`, append(args, subject)
	}
	rows, err := d.query(ctx, d.r, q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, unavailable("audit log", err)
	}
	defer rows.Close()
	var out []core.AuditEntry
	for rows.Next() {
		var a core.AuditEntry
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Subject, &a.Detail); err != nil {
			return nil, unavailable("audit log", err)
		}
		a.At = fromMS(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("audit log", err)
	}
	return out, nil
}
