package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// planEvent is one event of TestEventsListPlansAgree with what the filters look at.
type planEvent struct {
	id, severity, title, file string
	received                  time.Time
	targets                   []string // delivered to
	dead                      bool     // its deliveries are dead
	held                      bool
}

// TestEventsListPlansAgree: whichever plan the events list takes (a sparse filter driving, a
// dense one walked per event, dense free text walked in chunks and, past its budget, with the
// match set, a filter on deliveries walked in list order and, past its budget, one of the
// others from where it stopped, within a page), every filter pages through exactly the events
// it selects, newest first.
func TestEventsListPlansAgree(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var evs []planEvent
	var items []core.IngestItem
	for i := range 60 {
		e := planEvent{id: fmt.Sprintf("e%02d", i), severity: []string{"critical", "high", "low"}[i%3],
			title: []string{"SQL injection in login", "Path traversal", "Weak hash for session"}[i%3+i%2*0],
			file:  fmt.Sprintf("src/%s/main.go", []string{"auth", "files", "crypto", "login"}[i%4]),
			// Several events share a millisecond: the cursor's id breaks ties.
			received: t0.Add(time.Duration(i/3) * time.Millisecond), targets: []string{"siem"}, dead: i%7 == 0, held: i%5 == 0}
		if i%4 == 1 {
			e.targets = append(e.targets, "wh_a")
		}
		evs = append(evs, e)
		ev, err := event.Parse(fmt.Appendf(nil, `{"event":"issue.critical","id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","issue_id":"i","severity":%q,"title":%q,"file":%q}}`,
			e.id, e.severity, e.title, e.file))
		require.NoError(t, err)
		ev.ReceivedAt = e.received
		it := core.IngestItem{Event: ev}
		for _, target := range e.targets {
			state := core.StateSucceeded
			if e.dead { // to two targets (i%4 == 1): the event is listed once
				state = core.StateDead
			}
			it.Deliveries = append(it.Deliveries, &core.Delivery{ID: fmt.Sprintf("d-%s-%s", e.id, target), Target: target, Route: "r",
				State: state, NextAttemptAt: e.received, CreatedAt: e.received})
		}
		if e.held {
			it.Groups = []core.GroupItem{{Target: "siem", Route: "r", Key: "k", Member: true}}
		}
		items = append(items, it)
	}
	hasWord := func(s, prefix string) bool {
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }) {
			if strings.HasPrefix(w, prefix) {
				return true
			}
		}
		return false
	}
	filters := map[string]struct {
		f    core.EventFilter
		want func(e planEvent) bool
	}{
		"text":            {core.EventFilter{Text: "login"}, func(e planEvent) bool { return hasWord(e.title+" "+e.file, "login") }},
		"text two words":  {core.EventFilter{Text: "sql auth"}, func(e planEvent) bool { return hasWord(e.title, "sql") && hasWord(e.file, "auth") }},
		"text+severity":   {core.EventFilter{Text: "weak", Severity: "low"}, func(e planEvent) bool { return hasWord(e.title, "weak") && e.severity == "low" }},
		"dead":            {core.EventFilter{Delivery: core.EventsDead}, func(e planEvent) bool { return e.dead }},
		"held":            {core.EventFilter{Delivery: core.EventsHeld}, func(e planEvent) bool { return e.held }},
		"tenant":          {core.EventFilter{Targets: []string{"wh_a"}}, func(e planEvent) bool { return slices.Contains(e.targets, "wh_a") }},
		"two targets":     {core.EventFilter{Targets: []string{"siem", "wh_a"}}, func(planEvent) bool { return true }},
		"two targets+sev": {core.EventFilter{Targets: []string{"wh_a", "siem"}, Severity: "high"}, func(e planEvent) bool { return e.severity == "high" }},
		"tenant+sev": {core.EventFilter{Targets: []string{"wh_a"}, Severity: "high"}, func(e planEvent) bool {
			return slices.Contains(e.targets, "wh_a") && e.severity == "high"
		}},
		// 21 is dead to two targets: listed once, whichever plan finds it.
		"dead+sev": {core.EventFilter{Delivery: core.EventsDead, Severity: "critical"}, func(e planEvent) bool { return e.dead && e.severity == "critical" }},
		"tenant+sev+range": {core.EventFilter{Targets: []string{"wh_a"}, Severity: "low", To: t0.Add(15 * time.Millisecond)}, func(e planEvent) bool {
			return slices.Contains(e.targets, "wh_a") && e.severity == "low" && !e.received.After(t0.Add(15*time.Millisecond))
		}},
		"dead+range": {core.EventFilter{Delivery: core.EventsDead, From: t0.Add(3 * time.Millisecond), To: t0.Add(15 * time.Millisecond)}, func(e planEvent) bool {
			return e.dead && !e.received.Before(t0.Add(3*time.Millisecond)) && !e.received.After(t0.Add(15*time.Millisecond))
		}},
		"tenant+text":      {core.EventFilter{Targets: []string{"wh_a"}, Text: "path"}, func(e planEvent) bool { return slices.Contains(e.targets, "wh_a") && hasWord(e.title, "path") }},
		"dead+text+range":  {core.EventFilter{Delivery: core.EventsDead, Text: "src", From: t0.Add(3 * time.Millisecond)}, func(e planEvent) bool { return e.dead && !e.received.Before(t0.Add(3*time.Millisecond)) }},
		"text, none":       {core.EventFilter{Text: "zzz"}, func(planEvent) bool { return false }},
		"short word whole": {core.EventFilter{Text: "go"}, func(planEvent) bool { return true }},  // every file ends .go
		"short prefix":     {core.EventFilter{Text: "lo"}, func(planEvent) bool { return false }}, // "login" does not match "lo"
	}
	// A budget of 1 stops the ordered walk after its first step on every page it does not
	// fill, 12 after a step or two; a probe of 1 entry an event finds more than that in most
	// spans of a column filter, so the step's events are all looked up.
	plans := map[string]store.ListPlan{
		"default":                           {Ordered: true},
		"all walked, chunks of 2, budget 2": {Chunk: 2, Chunks: 2},
		"all walked, one chunk":             {Chunk: 1000, Chunks: 1},
		"driven":                            {Sparse: 1000, Chunk: 1, Chunks: 1},
		"ordered, driven":                   {Sparse: 1000, Chunk: 1, Chunks: 1, Budget: 1000, Probe: 1000, Ordered: true},
		"ordered, dense":                    {Chunk: 2, Chunks: 2, Budget: 1000, Probe: 1000, Ordered: true},
		"ordered, events looked up":         {Chunk: 2, Chunks: 2, Budget: 1000, Probe: 1, Ordered: true},
		"ordered to budget 1, then driven":  {Sparse: 1000, Chunk: 1, Chunks: 1, Budget: 1, Probe: 1000, Ordered: true},
		"ordered to budget 1, then walked":  {Chunk: 2, Chunks: 2, Budget: 1, Probe: 1, Ordered: true},
		"ordered to budget 12, then walked": {Chunk: 2, Chunks: 2, Budget: 12, Probe: 1000, Ordered: true},
	}
	for _, drv := range []string{"sqlite", "postgres"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			var db *store.DB
			if drv == "sqlite" {
				var err error
				db, err = store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "b.db"))
				require.NoError(t, err)
				t.Cleanup(func() { _ = db.Close() })
			} else {
				db = openPG(t, pgtest.Schema(t, ""))
			}
			_, err := db.Ingest(context.Background(), items)
			require.NoError(t, err)
			for fname, fc := range filters {
				var want []string
				for i := len(evs) - 1; i >= 0; i-- { // newest first: received, then id, descending
					if fc.want(evs[i]) {
						want = append(want, evs[i].id)
					}
				}
				for pname, p := range plans {
					store.SetListPlan(db, p)
					var got []string
					f := fc.f
					f.Limit = 4
					for range 30 {
						page, err := db.Events(context.Background(), f)
						require.NoError(t, err)
						for _, e := range page.Events {
							got = append(got, e.ID)
						}
						if f.Cursor = page.NextCursor; f.Cursor == "" {
							break
						}
					}
					require.Equal(t, want, got, "%s, plan %s", fname, pname)
				}
			}
		})
	}
}
