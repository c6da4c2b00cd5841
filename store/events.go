package store

// The events list (core.EventFilter) and what an event page shows besides the event: its
// deliveries and holds.

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// listFields are the data fields copied into the events table for the list (migration 00010):
// each a string field's first core.ListFieldChars characters, "" for any other kind.
func listFields(ev *event.Event) (severity, repository, scanID, title, file string) {
	f := func(name string) string {
		s, _ := ev.Data[name].(string)
		if utf8.RuneCountInString(s) <= core.ListFieldChars {
			return s
		}
		n := 0
		for i := range s {
			if n == core.ListFieldChars {
				return s[:i]
			}
			n++
		}
		return s
	}
	return f("severity"), f("repo_url"), f("scan_id"), f("title"), f("file")
}

// cutField cuts a filter value as listFields cut the stored one, so they compare equal.
func cutField(s string) string {
	sev, _, _, _, _ := listFields(&event.Event{Data: map[string]any{"severity": s}})
	return sev
}

// textWords splits a free-text query as the index splits title and file: runs of letters and
// digits, lower-cased, at most core.MaxTextWords of at most core.MaxTextWordBytes each. They hold
// no quote or operator, so each can be put into a match expression as it is.
func textWords(text string) []string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) > core.MaxTextWords {
		words = words[:core.MaxTextWords]
	}
	for i, w := range words {
		if len(w) > core.MaxTextWordBytes {
			w = w[:core.MaxTextWordBytes]
			for !utf8.ValidString(w) {
				w = w[:len(w)-1]
			}
			words[i] = w
		}
	}
	return words
}

// eventTextSQL is the free-text condition on events e for words (textWords), with its argument.
func (d *DB) eventTextSQL(words []string) (string, any) {
	if d.pg != nil {
		terms := make([]string, len(words))
		for i, w := range words {
			terms[i] = "'" + w + "':*"
		}
		// The expression of the index events_text (migration 00010).
		return `to_tsvector('simple'::regconfig, regexp_replace(e.title || ' ' || e.file, '[[:punct:]]+', ' ', 'g'))
			@@ to_tsquery('simple'::regconfig, ?)`, strings.Join(terms, " & ")
	}
	terms := make([]string, len(words))
	for i, w := range words {
		terms[i] = `"` + w + `"*`
	}
	return `e.rowid IN (SELECT rowid FROM events_text WHERE events_text MATCH ?)`, strings.Join(terms, " ")
}

const summaryColumns = `e.id, e.type, e.occurred_at_ms, e.received_at_ms, e.severity, e.repository, e.scan_id, e.title, e.file`

// Events lists one page of the events f selects, newest received first, with a cursor to the
// next page (the last row's received time and id: pages stay stable while events arrive). It
// returns ErrBadCursor for a cursor no listing returned and errors wrapping core.ErrUnavailable
// when storage fails. Every filter is served by an index (migration 00010); the delivery-state
// and tenant filters probe the deliveries of each event walked.
func (d *DB) Events(ctx context.Context, f core.EventFilter) (core.EventPage, error) {
	q := `SELECT ` + summaryColumns + ` FROM events e WHERE 1 = 1`
	var args []any
	eq := func(col, v string) {
		if v != "" {
			// col <> '' lets the planner use the partial index on col.
			q += ` AND e.` + col + ` = ? AND e.` + col + ` <> ''`
			args = append(args, d.dialect.text(cutField(v)))
		}
	}
	if f.Type != "" {
		q += ` AND e.type = ?`
		args = append(args, d.dialect.text(f.Type))
	}
	eq("severity", f.Severity)
	eq("repository", f.Repository)
	eq("scan_id", f.ScanID)
	if !f.From.IsZero() {
		q += ` AND e.received_at_ms >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND e.received_at_ms <= ?`
		args = append(args, ms(f.To))
	}
	if words := textWords(f.Text); len(words) > 0 {
		cond, arg := d.eventTextSQL(words)
		q += ` AND ` + cond
		args = append(args, arg)
	} else if strings.TrimSpace(f.Text) != "" {
		return core.EventPage{}, nil // only punctuation: no word can match
	}
	tcond, targs, some := d.targetCond("d.target", f.Targets)
	if !some {
		return core.EventPage{}, nil
	}
	switch f.Delivery {
	case "":
		if f.Targets != nil {
			q += ` AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id` + tcond + `)`
			args = append(args, targs...)
		}
	case core.EventsFailed:
		q += ` AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state = 'pending' AND d.attempts > d.retry_base` + tcond + `)`
		args = append(args, targs...)
	case core.EventsDead:
		q += ` AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state = 'dead'` + tcond + `)`
		args = append(args, targs...)
	case core.EventsHeld:
		gcond, gargs, _ := d.targetCond("gi.target", f.Targets)
		q += ` AND EXISTS (SELECT 1 FROM group_items gi WHERE gi.event_id = e.id` + gcond + `)`
		args = append(args, gargs...)
	default:
		return core.EventPage{}, fmt.Errorf("delivery state %q: want one of %s", f.Delivery, strings.Join(core.EventDeliveryStates, ", "))
	}
	if f.Cursor != "" {
		received, id, err := parseCursor(f.Cursor)
		if err != nil {
			return core.EventPage{}, err
		}
		q += ` AND (e.received_at_ms < ? OR (e.received_at_ms = ? AND e.id < ?))`
		args = append(args, received, received, id)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = core.DefaultPageSize
	}
	limit = min(limit, core.MaxEventPageSize)
	q += ` ORDER BY e.received_at_ms DESC, e.id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return core.EventPage{}, unavailable("list events", err)
	}
	defer rows.Close()
	var out []core.EventSummary
	for rows.Next() {
		var s core.EventSummary
		var occurred, received int64
		if err := rows.Scan(&s.ID, &s.Type, &occurred, &received, &s.Severity, &s.Repository, &s.ScanID, &s.Title, &s.File); err != nil {
			return core.EventPage{}, unavailable("list events", err)
		}
		s.OccurredAt, s.ReceivedAt = fromMS(occurred), fromMS(received)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return core.EventPage{}, unavailable("list events", err)
	}
	page := core.EventPage{Events: out}
	if len(out) > limit {
		page.Events = out[:limit]
		last := out[limit-1]
		page.NextCursor = fmt.Sprintf("%d.%s", last.ReceivedAt.UnixMilli(), last.ID)
	}
	return page, nil
}

// Event returns the stored event id (body parsed, ReceivedAt and Delivery set), core.ErrNotFound
// when there is none, or the parse error of a body that no longer parses.
func (d *DB) Event(ctx context.Context, id string) (*event.Event, error) {
	broken := map[string]error{}
	evs, err := d.queryEvents(ctx, broken, `SELECT `+eventColumns+` FROM events WHERE id = ?`, d.dialect.text(id))
	if err != nil {
		return nil, err
	}
	for _, perr := range broken {
		return nil, fmt.Errorf("stored event %s no longer parses: %w", id, perr)
	}
	if len(evs) == 0 {
		return nil, core.ErrNotFound
	}
	return evs[0], nil
}

// EventDeliveries lists every delivery of event eventID (to config targets and registered
// webhooks alike), oldest first, limited to targets when it is not nil (empty: none). Their
// attempts are AttemptsOf's.
func (d *DB) EventDeliveries(ctx context.Context, eventID string, targets []string) ([]*core.Delivery, error) {
	cond, cargs, some := d.targetCond("d.target", targets)
	if !some {
		return nil, nil
	}
	rows, err := d.query(ctx, d.r, `SELECT `+deliveryColumns+` FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.event_id = ?`+cond+` ORDER BY d.created_at_ms, d.id`, append([]any{d.dialect.text(eventID)}, cargs...)...)
	if err != nil {
		return nil, unavailable("list event deliveries", err)
	}
	defer rows.Close()
	var out []*core.Delivery
	for rows.Next() {
		dl, err := scanDelivery(rows)
		if err != nil {
			return nil, unavailable("list event deliveries", err)
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list event deliveries", err)
	}
	return out, nil
}

// EventHolds lists the holds of event eventID recorded at ingest (routes with group_by,
// throttle or quiet hours), limited to targets when it is not nil (empty: none), by target
// and route.
func (d *DB) EventHolds(ctx context.Context, eventID string, targets []string) ([]core.Hold, error) {
	cond, cargs, some := d.targetCond("target", targets)
	if !some {
		return nil, nil
	}
	rows, err := d.query(ctx, d.r, `SELECT target, route, group_key, member, COALESCE(group_id, '') FROM group_items
		WHERE event_id = ?`+cond+` ORDER BY target, route`, append([]any{d.dialect.text(eventID)}, cargs...)...)
	if err != nil {
		return nil, unavailable("list event holds", err)
	}
	defer rows.Close()
	var out []core.Hold
	for rows.Next() {
		var h core.Hold
		var member int
		if err := rows.Scan(&h.Target, &h.Route, &h.Key, &member, &h.GroupID); err != nil {
			return nil, unavailable("list event holds", err)
		}
		h.Member = member != 0
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list event holds", err)
	}
	return out, nil
}
