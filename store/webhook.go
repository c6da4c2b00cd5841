package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/notify"
)

const webhookColumns = `id, account, url, events, secret, active, description, version, created_at_ms, updated_at_ms, signature_scheme`

func scanWebhook(row interface{ Scan(...any) error }) (*core.Webhook, error) {
	w := &core.Webhook{}
	var events, secret string
	var active int
	var created, updated int64
	if err := row.Scan(&w.ID, &w.Account, &w.URL, &events, &secret, &active, &w.Description, &w.Version, &created, &updated, &w.SignatureScheme); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: stored events: %w", w.ID, err)
	}
	w.Secret, w.Active, w.CreatedAt, w.UpdatedAt = notify.Secret(secret), active == 1, fromMS(created), fromMS(updated)
	return w, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateWebhook implements api.ManagementStore.
func (d *DB) CreateWebhook(ctx context.Context, w *core.Webhook, max int) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return err
	}
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := d.queryRow(ctx, tx, `SELECT COUNT(*) FROM webhooks WHERE account = ?`, w.Account).Scan(&n); err != nil {
			return err
		}
		if max > 0 && n >= max {
			return core.ErrLimitReached
		}
		_, err := d.exec(ctx, tx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.Account, w.URL, string(events), w.Secret.Reveal(), boolInt(w.Active), w.Description, w.Version,
			ms(w.CreatedAt), ms(w.UpdatedAt), w.SignatureScheme)
		return err
	})
	if errors.Is(err, core.ErrLimitReached) {
		return err
	}
	if err != nil {
		return unavailable("create webhook", err)
	}
	return nil
}

// Webhooks implements api.ManagementStore.
func (d *DB) Webhooks(ctx context.Context, account string) ([]*core.Webhook, error) {
	q, args := `SELECT `+webhookColumns+` FROM webhooks`, []any{}
	if account != "" {
		q += ` WHERE account = ?`
		args = append(args, account)
	}
	rows, err := d.query(ctx, d.r, q+` ORDER BY created_at_ms, id`, args...)
	if err != nil {
		return nil, unavailable("list webhooks", err)
	}
	defer rows.Close()
	var out []*core.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, unavailable("list webhooks", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list webhooks", err)
	}
	return out, nil
}

// Webhook implements api.ManagementStore.
func (d *DB) Webhook(ctx context.Context, account, id string) (*core.Webhook, error) {
	w, err := scanWebhook(d.queryRow(ctx, d.r, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ? AND account = ?`, id, account))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	}
	if err != nil {
		return nil, unavailable("get webhook", err)
	}
	return w, nil
}

// UpdateWebhook implements api.ManagementStore.
func (d *DB) UpdateWebhook(ctx context.Context, w *core.Webhook, ifVersion int) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return err
	}
	q := `UPDATE webhooks SET url = ?, events = ?, secret = ?, active = ?, description = ?, signature_scheme = ?, version = version + 1,
		updated_at_ms = ? WHERE id = ? AND account = ?`
	args := []any{w.URL, string(events), w.Secret.Reveal(), boolInt(w.Active), w.Description, w.SignatureScheme, ms(w.UpdatedAt), w.ID, w.Account}
	if ifVersion > 0 {
		q += ` AND version = ?`
		args = append(args, ifVersion)
	}
	res, err := d.exec(ctx, d.w, q, args...)
	if err != nil {
		return unavailable("update webhook", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("update webhook", err)
	} else if n == 1 {
		return d.queryRow(ctx, d.w, `SELECT version FROM webhooks WHERE id = ?`, w.ID).Scan(&w.Version)
	}
	if _, err := d.Webhook(ctx, w.Account, w.ID); err != nil {
		return err
	}
	return core.ErrConflict
}

// DeleteWebhook implements api.ManagementStore.
func (d *DB) DeleteWebhook(ctx context.Context, account, id string) error {
	res, err := d.exec(ctx, d.w, `DELETE FROM webhooks WHERE id = ? AND account = ?`, id, account)
	if err != nil {
		return unavailable("delete webhook", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable("delete webhook", err)
	} else if n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// WebhooksChanged returns a value that changes whenever any webhook is created, changed or
// deleted (replicas poll it to pick up other replicas' changes): the count, the highest version
// sum and the latest change time together move on every create, update and delete.
func (d *DB) WebhooksChanged(ctx context.Context) (string, error) {
	var n, versions, latest int64
	err := d.queryRow(ctx, d.r, `SELECT COUNT(*), COALESCE(SUM(version), 0), COALESCE(MAX(updated_at_ms), 0) FROM webhooks`).Scan(&n, &versions, &latest)
	if err != nil {
		return "", unavailable("webhooks changed", err)
	}
	return fmt.Sprintf("%d/%d/%d", n, versions, latest), nil
}
