package store

// The events list (core.EventFilter) and what an event page shows besides the event: its
// deliveries and holds.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	words := strings.FieldsFunc(strings.ToLower(text), notWordRune)
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

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// notWordRune splits text into words as the text index does (SQLite FTS5's unicode61 tokenizer
// without diacritics removal: letters and numbers are word characters).
func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }

// minPrefixRunes is the shortest query word that matches as a prefix; a shorter one ("7", "go")
// matches whole words only: a one- or two-character prefix would merge the postings of most of
// the index's words.
const minPrefixRunes = 3

// prefixWord reports whether query word w matches words it starts (else only itself).
func prefixWord(w string) bool { return utf8.RuneCountInString(w) >= minPrefixRunes }

// textMatches reports whether every word (textWords) starts a word of title or file (is one, when
// shorter than minPrefixRunes): the text index's match, for the events a dense text filter walks.
func textMatches(words []string, title, file string) bool {
	have := strings.FieldsFunc(strings.ToLower(title+" "+file), notWordRune)
	for _, w := range words {
		if !slices.ContainsFunc(have, func(h string) bool { return h == w || prefixWord(w) && strings.HasPrefix(h, w) }) {
			return false
		}
	}
	return true
}

const summaryColumns = `e.id, e.type, e.occurred_at_ms, e.received_at_ms, e.severity, e.repository, e.scan_id, e.title, e.file`

// listPlan tunes the events list's plans; the zero value takes the constants below (tests set
// small ones to walk every path on a few events).
type listPlan struct {
	sparse, chunk, chunks int
	slack, budget, probe  int  // walkDeliveries' orderedSlack, orderedBudget, orderedProbe
	noOrdered             bool // filters on deliveries are never walked in the list's order
}

func (p listPlan) orDefaults() listPlan {
	if p == (listPlan{}) {
		return listPlan{sparse: sparseLimit, chunk: textChunk, chunks: textChunks, slack: orderedSlack, budget: orderedBudget, probe: orderedProbe}
	}
	return p
}

// sparseLimit is how many events a filter on deliveries, holds or text may match and still drive
// the list query: its events are looked up by id (the index events_id_received holds their
// received time) and sorted. A filter matching more is checked on each event walked newest
// first instead (an index probe each), which fills a page of 50 within about 50·N/sparseLimit
// events. A driven event costs a random read, a walked one a sequential index probe: at a
// million events the two meet near 2 000 (BENCHMARKS.md,
// "Event list at 1 000 000 events").
const sparseLimit = 2000

// Dense free text on SQLite is walked in chunks of textChunk events, at most textChunks of them
// (then the rest of the page is found with the match set built once); a chunk pre-filtered in
// SQL asks for textSlack more events than are still wanted.
const (
	textChunk  = 1000
	textChunks = 50
	textSlack  = 10
)

// narrowing is one filter that needs another table (deliveries, group items, the text index):
// set selects the events it matches (probed, bounded, to choose the plan), drive is its
// condition on e when it drives the query, walk when it is checked per event walked.
type narrowing struct {
	set, drive, walk string
	args             []any // for each of set, drive, walk and ordered
	// ordered are conditions on deliveries d when the narrowing can be walked in the list's
	// order on index orderedBy (migration 00013: the event's received time on each delivery),
	// one walk per condition, merged; none when it cannot. orderedArgs are each one's.
	ordered     []string
	orderedBy   string
	orderedArgs [][]any
	existsOnly  bool   // probe only whether one event matches; it never drives
	recent      string // a first existence probe of the newest events (textQuery.recent)
	chunk       bool   // dense: walked in chunks, checked in Go (SQLite free text: dialect.textMatch)
}

// Events lists one page of the events f selects, newest received first, with a cursor to the
// next page (the last row's received time and id: pages stay stable while events arrive). It
// returns core.ErrBadCursor for a cursor no listing returned, an error naming an unknown
// f.Delivery, and errors wrapping core.ErrUnavailable when storage fails. The columns filters
// use an index each with the received order (migration 00010); the filters on deliveries, holds
// and text are planned by how many events they match (sparseLimit).
func (d *DB) Events(ctx context.Context, f core.EventFilter) (core.EventPage, error) {
	if f.Delivery != "" && !slices.Contains(core.EventDeliveryStates, f.Delivery) {
		return core.EventPage{}, fmt.Errorf("delivery state %q: want one of %s", f.Delivery, strings.Join(core.EventDeliveryStates, ", "))
	}
	// An event acknowledged before the query began is listed (listing.go). While the database
	// cannot be written (a full disk), the events listed so far are still shown; the rest stay
	// pending for the next listing.
	_ = d.catchUp(ctx)
	limit := f.Limit
	if limit <= 0 {
		limit = core.DefaultPageSize
	}
	limit = min(limit, core.MaxEventPageSize)
	var cursor []any
	if f.Cursor != "" {
		received, id, err := parseCursor(f.Cursor)
		if err != nil {
			return core.EventPage{}, err
		}
		cursor = []any{received, id}
	}
	words := textWords(f.Text)
	tcond, targs, some := d.targetCond("d.target", f.Targets)
	if !some || (len(words) == 0 && strings.TrimSpace(f.Text) != "") {
		return core.EventPage{}, nil // no webhooks, or text of punctuation only: nothing matches
	}

	base := ``
	var args []any
	// col is the last filter on an event column, the one least events are expected to meet
	// (a scan's events are fewer than a repository's, those than a severity's): the ordered
	// walk of deliveries probes its index (walkDeliveries).
	var col columnProbe
	eq := func(name, index, v string) {
		if v != "" {
			// name <> '' and dialect.listed let the planner use the partial index on name.
			col = columnProbe{cond: ` AND e.` + name + ` = ? AND e.` + name + ` <> ''` + d.dialect.listed, index: index, arg: cutField(v)}
			base += col.cond
			args = append(args, col.arg)
		}
	}
	if f.Type != "" {
		col = columnProbe{cond: ` AND e.type = ?` + d.dialect.listed, index: "events_type_received", arg: f.Type}
		base += col.cond
		args = append(args, col.arg)
	}
	eq("severity", "events_severity_received", f.Severity)
	eq("repository", "events_repository_received", f.Repository)
	eq("scan_id", "events_scan_received", f.ScanID)
	if !f.From.IsZero() {
		base += ` AND e.received_at_ms >= ?`
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		base += ` AND e.received_at_ms <= ?`
		args = append(args, ms(f.To))
	}

	var nars []narrowing
	if f.Delivery != "" || f.Targets != nil {
		var cond string
		table, col := "deliveries d", "d.event_id"
		switch f.Delivery {
		case core.EventsFailed:
			cond = ` AND d.state = 'pending' AND d.attempts > d.retry_base`
		case core.EventsDead:
			cond = ` AND d.state = 'dead'`
		case core.EventsHeld:
			table, col = "group_items d", "d.event_id" // held: the routes' holds, on the same targets
		}
		set := `SELECT ` + col + ` FROM ` + table + ` WHERE 1 = 1` + cond + tcond
		n := narrowing{set: set, drive: `e.id IN (` + set + `)` + d.dialect.listed, // listed: the index events_id_received
			walk: `EXISTS (SELECT 1 FROM ` + table + ` WHERE ` + col + ` = e.id` + cond + tcond + `)`, args: targs}
		// One index condition (a state, or up to maxOrderedTargets targets): a walk in list
		// order on its index, bounded by orderedBudget when filters on event columns make
		// some of its deliveries' events not match.
		switch {
		case f.Delivery == core.EventsFailed && f.Targets == nil:
			n.ordered, n.orderedBy, n.orderedArgs = []string{cond}, "deliveries_failed", [][]any{nil}
		case f.Delivery == core.EventsDead && f.Targets == nil:
			n.ordered, n.orderedBy, n.orderedArgs = []string{cond}, "deliveries_dead_event", [][]any{nil}
		case f.Delivery == "" && len(f.Targets) <= maxOrderedTargets:
			// A walk per webhook with =: Postgres walks an index in order for = only, not
			// for = ANY.
			n.orderedBy = "deliveries_target_event"
			for _, t := range f.Targets {
				n.ordered, n.orderedArgs = append(n.ordered, ` AND d.target = ?`), append(n.orderedArgs, []any{d.dialect.text(t)})
			}
		}
		nars = append(nars, n)
	}
	if len(words) > 0 {
		tq := d.dialect.textMatch(words)
		nars = append(nars, narrowing{set: tq.set, drive: tq.drive, walk: tq.walk, args: []any{tq.arg}, chunk: tq.chunk, existsOnly: tq.existsOnly, recent: tq.recent})
	}

	plan := d.listPlan.orDefaults()
	// A filter on deliveries that is the only narrowing and can be walked in the list's order
	// is (migration 00013), within orderedBudget; the rest of a page it did not fill, or else
	// the whole page, takes the plans below from where the walk stopped: the sparsest
	// narrowing that matches at most sparseLimit events drives and the others are checked per
	// event.
	var out []core.EventSummary
	if len(nars) == 1 && len(nars[0].ordered) > 0 && !plan.noOrdered {
		w, err := d.walkDeliveries(ctx, nars[0], base, args, col, f.From, f.To, cursor, limit+1, plan)
		if err != nil {
			return core.EventPage{}, err
		}
		if out = w.events; w.done {
			return listPage(out, limit), nil
		}
		cursor = w.next
	}
	driver, fewest := -1, plan.sparse+1
	for i, n := range nars {
		if n.existsOnly {
			some, err := d.recentMatch(ctx, n)
			if err == nil && !some {
				some, err = d.dialect.exists(d, ctx, n.set, n.args)
			}
			if err != nil {
				return core.EventPage{}, unavailable("list events", err)
			}
			if !some {
				return listPage(out, limit), nil
			}
			continue
		}
		var count int
		if err := d.queryRow(ctx, d.r, `SELECT COUNT(*) FROM (`+n.set+` LIMIT ?) x`, append(slices.Clone(n.args), plan.sparse+1)...).Scan(&count); err != nil {
			return core.EventPage{}, unavailable("list events", err)
		}
		if count == 0 {
			return listPage(out, limit), nil
		}
		if count < fewest {
			driver, fewest = i, count
		}
	}
	var walked []narrowing // checked per event in SQL
	var chunked *narrowing // dense SQLite text, checked per chunk
	for i, n := range nars {
		switch {
		case i == driver:
			base += ` AND ` + n.drive
			args = append(args, n.args...)
		case driver < 0 && n.chunk:
			chunked = &nars[i]
		default:
			walked = append(walked, n)
		}
	}
	for _, n := range walked {
		base += ` AND ` + n.walk
		args = append(args, n.args...)
	}
	// A driving set is sorted: + keeps the planner from walking the received index instead.
	order := `e.received_at_ms`
	if driver >= 0 {
		order = `+e.received_at_ms`
	}
	// While dense text is walked, a necessary condition in SQL keeps most non-matching events
	// from reaching Go: each ASCII word is a substring of the lower-cased title and file
	// (SQLite's lower folds ASCII only, so other words are left to textMatches).
	pre, preArgs := "", []any{}
	if chunked != nil {
		for _, w := range words {
			if isASCII(w) {
				pre += ` AND instr(lower(e.title || ' ' || e.file), ?) > 0`
				preArgs = append(preArgs, w)
			}
		}
	}
	// The page's ids are found first, from the indexes alone where the filters allow (the
	// received index holds the id), and only their rows are read.
	page := func(cursor []any, n int) (string, []any) {
		q := `SELECT e.id FROM events e WHERE 1 = 1` + base + pre
		a := append(slices.Clone(args), preArgs...)
		if cursor != nil {
			q += ` AND (` + order + `, e.id) < (?, ?)`
			a = append(a, cursor...)
		}
		q += ` ORDER BY ` + order + ` DESC, e.id DESC LIMIT ?`
		return `SELECT ` + summaryColumns + ` FROM events e WHERE e.id IN (` + q + `) ORDER BY e.received_at_ms DESC, e.id DESC`, append(a, n)
	}

	if chunked != nil {
		found, next, err := d.walkText(ctx, words, plan, pre != "", cursor, limit+1-len(out), page)
		if err != nil {
			return core.EventPage{}, err
		}
		out, cursor = append(out, found...), next
		if len(out) <= limit && cursor != nil { // the chunks ran out: the rest with the match set
			pre, preArgs = "", nil
			base += ` AND ` + chunked.walk
			args = append(args, chunked.args...)
			chunked = nil
		}
	}
	if chunked == nil && len(out) <= limit {
		q, a := page(cursor, limit+1-len(out))
		more, err := d.summaries(ctx, q, a)
		if err != nil {
			return core.EventPage{}, err
		}
		out = append(out, more...)
	}
	return listPage(out, limit), nil
}

// listPage is the page of the first limit of out (up to limit+1 events, newest first), with a
// cursor after its last event when out has one more.
func listPage(out []core.EventSummary, limit int) core.EventPage {
	result := core.EventPage{Events: out}
	if len(out) > limit {
		result.Events = out[:limit]
		last := out[limit-1]
		result.NextCursor = fmt.Sprintf("%d.%s", last.ReceivedAt.UnixMilli(), last.ID)
	}
	return result
}

// recentEvents is how many of the newest events textQuery.recent walks: a word in 1 event of
// 200 is found there about 10 times.
const recentEvents = 2000

// recentMatch reports whether one of the recentEvents newest events matches n (false when n
// has no recent form).
func (d *DB) recentMatch(ctx context.Context, n narrowing) (bool, error) {
	if n.recent == "" {
		return false, nil
	}
	var one int
	switch err := d.queryRow(ctx, d.r, n.recent, n.args...).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// walkText finds up to want events of the page query that match words (dense free text on
// SQLite), plan.chunk events at a time, newest first, checking each in Go (textMatches) rather
// than looking the text index up per range. It returns the events found and the cursor after
// the last event walked, nil when the walk reached the end of the list.
func (d *DB) walkText(ctx context.Context, words []string, plan listPlan, prefiltered bool, cursor []any, want int,
	page func([]any, int) (string, []any)) ([]core.EventSummary, []any, error) {
	var out []core.EventSummary
	for range plan.chunks {
		// The SQL pre-filter lets through few events that do not match: ask for about as many
		// as are still wanted.
		n := plan.chunk
		if prefiltered {
			n = min(n, want-len(out)+textSlack)
		}
		q, a := page(cursor, n)
		rows, err := d.summaries(ctx, q, a)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			if !textMatches(words, r.Title, r.File) {
				continue
			}
			out = append(out, r)
			if len(out) == want {
				return out, []any{r.ReceivedAt.UnixMilli(), r.ID}, nil
			}
		}
		if len(rows) < n {
			return out, nil, nil
		}
		last := rows[len(rows)-1]
		cursor = []any{last.ReceivedAt.UnixMilli(), last.ID}
	}
	return out, cursor, nil
}

// summaries runs q, which selects summaryColumns.
func (d *DB) summaries(ctx context.Context, q string, args []any) ([]core.EventSummary, error) {
	rows, err := d.query(ctx, d.r, q, args...)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	defer rows.Close()
	var out []core.EventSummary
	for rows.Next() {
		var s core.EventSummary
		var occurred, received int64
		if err := rows.Scan(&s.ID, &s.Type, &occurred, &received, &s.Severity, &s.Repository, &s.ScanID, &s.Title, &s.File); err != nil {
			return nil, unavailable("list events", err)
		}
		s.OccurredAt, s.ReceivedAt = fromMS(occurred), fromMS(received)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list events", err)
	}
	return out, nil
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

// EventDeliveries lists event eventID's deliveries to targets (nil: every target; empty: none),
// oldest first (DeliveriesOf with one event).
func (d *DB) EventDeliveries(ctx context.Context, eventID string, targets []string) ([]*core.Delivery, error) {
	by, err := d.DeliveriesOf(ctx, []string{eventID}, targets)
	return by[eventID], err
}

// DeliveriesOf lists the deliveries to targets (nil: every target; empty: none) of each of
// eventIDs (at most a page of events: one query with an IN list), by event id, each oldest
// first. Errors wrap core.ErrUnavailable.
func (d *DB) DeliveriesOf(ctx context.Context, eventIDs []string, targets []string) (map[string][]*core.Delivery, error) {
	cond, cargs, some := d.targetCond("d.target", targets)
	if !some || len(eventIDs) == 0 {
		return nil, nil
	}
	ids, iargs := d.inList("d.event_id", eventIDs)
	rows, err := d.query(ctx, d.r, `SELECT `+deliveryColumns+` FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE `+ids+cond+` ORDER BY d.created_at_ms, d.id`, append(iargs, cargs...)...)
	if err != nil {
		return nil, unavailable("list event deliveries", err)
	}
	defer rows.Close()
	out := map[string][]*core.Delivery{}
	for rows.Next() {
		dl, err := scanDelivery(rows)
		if err != nil {
			return nil, unavailable("list event deliveries", err)
		}
		out[dl.EventID] = append(out[dl.EventID], dl)
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
