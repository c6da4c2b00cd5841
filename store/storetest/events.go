package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
)

// eventTests are the events list, an event's deliveries and holds, and the bulk retry.
func eventTests() map[string]func(t *testing.T, s Store) {
	return map[string]func(t *testing.T, s Store){
		"EventsFilters":          testEventsFilters,
		"EventsCursor":           testEventsCursor,
		"EventsDeliveryState":    testEventsDeliveryState,
		"EventDetail":            testEventDetail,
		"RetryDeliveriesInBulk":  testRetryDeliveries,
		"EventsLongFieldsAreCut": testEventsLongFields,
	}
}

// issueEvent makes an issue.critical event received at received.
func issueEvent(t *testing.T, id, severity, repo, scan, title, file string, received time.Time) *event.Event {
	t.Helper()
	body := fmt.Sprintf(`{"event":"issue.critical","id":%q,"timestamp":"2026-01-02T03:04:05Z","data":{"scan_id":%q,"issue_id":"i-%s","severity":%q,"title":%q,"file":%q,"repo_url":%q}}`,
		id, scan, id, severity, title, file, repo)
	ev, err := event.Parse([]byte(body))
	require.NoError(t, err)
	ev.ReceivedAt = received
	return ev
}

func listIDs(t *testing.T, s Store, f core.EventFilter) []string {
	t.Helper()
	page, err := s.Events(context.Background(), f)
	require.NoError(t, err)
	out := []string{}
	for _, e := range page.Events {
		out = append(out, e.ID)
	}
	return out
}

func testEventsFilters(t *testing.T, s Store) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	ingest(t, s,
		core.IngestItem{Event: issueEvent(t, "a", "critical", "https://git/x", "s1", "SQL injection in login", "src/auth/login.go", at(1)),
			Deliveries: []*core.Delivery{delivery("wh_1", core.StatePending, "")}},
		core.IngestItem{Event: issueEvent(t, "b", "high", "https://git/x", "s1", "Hard-coded password", "config/db.yaml", at(2)),
			Deliveries: []*core.Delivery{delivery("slack", core.StatePending, "")}},
		core.IngestItem{Event: issueEvent(t, "c", "critical", "https://git/y", "s2", "Path traversal", "src/files/Download.java", at(3)),
			Deliveries: []*core.Delivery{delivery("wh_2", core.StatePending, ""), delivery("slack", core.StatePending, "")}},
		core.IngestItem{Event: newEvent(t, "d")}, // scan.started at t0, scan_id s1, no delivery
	)
	tests := map[string]struct {
		f    core.EventFilter
		want []string
	}{
		"all, newest first":          {core.EventFilter{}, []string{"c", "b", "a", "d"}},
		"type":                       {core.EventFilter{Type: "scan.started"}, []string{"d"}},
		"type and severity":          {core.EventFilter{Type: "issue.critical", Severity: "critical"}, []string{"c", "a"}},
		"severity is exact":          {core.EventFilter{Severity: "crit"}, []string{}},
		"repository":                 {core.EventFilter{Repository: "https://git/x"}, []string{"b", "a"}},
		"scan id":                    {core.EventFilter{ScanID: "s1"}, []string{"b", "a", "d"}},
		"time range inclusive":       {core.EventFilter{From: at(2), To: at(3)}, []string{"c", "b"}},
		"from only":                  {core.EventFilter{From: at(3)}, []string{"c"}},
		"text word of title":         {core.EventFilter{Text: "injection"}, []string{"a"}},
		"text prefix, any case":      {core.EventFilter{Text: "PASS"}, []string{"b"}},
		"text word of a file path":   {core.EventFilter{Text: "download"}, []string{"c"}},
		"text words all needed":      {core.EventFilter{Text: "src login"}, []string{"a"}},
		"text words across fields":   {core.EventFilter{Text: "traversal java"}, []string{"c"}},
		"text no match":              {core.EventFilter{Text: "xss"}, []string{}},
		"text operators are words":   {core.EventFilter{Text: `"sql" OR * NEAR(`}, []string{}},
		"text only punctuation":      {core.EventFilter{Text: `"*'`}, []string{}},
		"tenant: its webhooks only":  {core.EventFilter{Targets: []string{"wh_1", "wh_2"}}, []string{"c", "a"}},
		"tenant without webhooks":    {core.EventFilter{Targets: []string{}}, []string{}},
		"tenant and filters":         {core.EventFilter{Targets: []string{"wh_1", "wh_2"}, Repository: "https://git/y"}, []string{"c"}},
		"config target is no tenant": {core.EventFilter{Targets: []string{"wh_9"}}, []string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, listIDs(t, s, tc.f))
		})
	}
	page, err := s.Events(context.Background(), core.EventFilter{ScanID: "s2"})
	require.NoError(t, err)
	require.Equal(t, []core.EventSummary{{ID: "c", Type: "issue.critical", OccurredAt: t0, ReceivedAt: at(3), Severity: "critical",
		Repository: "https://git/y", ScanID: "s2", Title: "Path traversal", File: "src/files/Download.java"}}, page.Events)
	_, err = s.Events(context.Background(), core.EventFilter{Delivery: "lost"})
	require.ErrorContains(t, err, `"lost"`)
}

func testEventsCursor(t *testing.T, s Store) {
	var items []core.IngestItem
	for i := range 7 {
		// Two events per millisecond: the cursor's id breaks the tie.
		items = append(items, core.IngestItem{Event: issueEvent(t, fmt.Sprintf("e%d", i), "low", "r", "s", "t", "f", t0.Add(time.Duration(i/2)*time.Millisecond))})
	}
	ingest(t, s, items...)
	var got []string
	cursor := ""
	for range 10 {
		page, err := s.Events(context.Background(), core.EventFilter{Severity: "low", Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		for _, e := range page.Events {
			got = append(got, e.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	require.Equal(t, []string{"e6", "e5", "e4", "e3", "e2", "e1", "e0"}, got)
	_, err := s.Events(context.Background(), core.EventFilter{Cursor: "nonsense"})
	require.ErrorIs(t, err, core.ErrBadCursor)
}

func testEventsDeliveryState(t *testing.T, s Store) {
	ctx := context.Background()
	failing, dead, ok := delivery("wh_1", core.StatePending, ""), delivery("slack", core.StateDead, ""), delivery("slack", core.StatePending, "")
	deadHook := delivery("wh_1", core.StateDead, "")
	ingest(t, s,
		core.IngestItem{Event: issueEvent(t, "failing", "high", "r", "s", "t", "f", t0), Deliveries: []*core.Delivery{failing}},
		core.IngestItem{Event: issueEvent(t, "dead", "high", "r", "s", "t", "f", t0.Add(time.Second)), Deliveries: []*core.Delivery{dead}},
		core.IngestItem{Event: issueEvent(t, "ok", "high", "r", "s", "t", "f", t0.Add(2*time.Second)), Deliveries: []*core.Delivery{ok}},
		core.IngestItem{Event: issueEvent(t, "held", "high", "r", "s", "t", "f", t0.Add(3*time.Second)),
			Groups: []core.GroupItem{{Target: "slack", Route: "r", Key: "k", Member: true}}},
		core.IngestItem{Event: issueEvent(t, "deadhook", "high", "r", "s", "t", "f", t0.Add(4*time.Second)), Deliveries: []*core.Delivery{deadHook}},
	)
	got := claim(t, s, "me", "wh_1", t0, 10)
	require.Len(t, got, 1)
	require.NoError(t, s.Complete(ctx, []core.Completion{{LeaseOwner: "me", Attempt: attempt(got[0], 1, "server_error"),
		State: core.StatePending, NextAttemptAt: t0.Add(time.Hour)}}))
	tests := map[string]struct {
		f    core.EventFilter
		want []string
	}{
		"failed":              {core.EventFilter{Delivery: core.EventsFailed}, []string{"failing"}},
		"dead":                {core.EventFilter{Delivery: core.EventsDead}, []string{"deadhook", "dead"}},
		"held":                {core.EventFilter{Delivery: core.EventsHeld}, []string{"held"}},
		"dead, tenant's only": {core.EventFilter{Delivery: core.EventsDead, Targets: []string{"wh_1"}}, []string{"deadhook"}},
		"held, tenant's only": {core.EventFilter{Delivery: core.EventsHeld, Targets: []string{"wh_1"}}, []string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, listIDs(t, s, tc.f))
		})
	}
}

func testEventDetail(t *testing.T, s Store) {
	ctx := context.Background()
	hook, slack := delivery("wh_1", core.StatePending, ""), delivery("slack", core.StateDead, "")
	slack.CreatedAt = t0.Add(time.Second)
	ev := issueEvent(t, "e1", "critical", "r", "s", "t", "f", t0)
	ingest(t, s, core.IngestItem{Event: ev, Deliveries: []*core.Delivery{hook, slack},
		Groups: []core.GroupItem{{Target: "teams", Route: "night", Key: "r", Member: true}}})

	got, err := s.Event(ctx, "e1")
	require.NoError(t, err)
	require.Equal(t, ev.Raw, got.Raw)
	require.Equal(t, t0, got.ReceivedAt)
	_, err = s.Event(ctx, "nope")
	require.ErrorIs(t, err, core.ErrNotFound)

	all, err := s.EventDeliveries(ctx, "e1", nil)
	require.NoError(t, err)
	require.Equal(t, []string{hook.ID, slack.ID}, ids(all))
	require.Equal(t, "issue.critical", all[0].EventType)
	mine, err := s.EventDeliveries(ctx, "e1", []string{"wh_1"})
	require.NoError(t, err)
	require.Equal(t, []string{hook.ID}, ids(mine))
	none, err := s.EventDeliveries(ctx, "e1", []string{})
	require.NoError(t, err)
	require.Empty(t, none)

	// A page's deliveries in one query: each event's own, in order, limited to targets.
	other := delivery("wh_1", core.StateSucceeded, "")
	ingest(t, s, core.IngestItem{Event: issueEvent(t, "e2", "high", "r", "s", "t", "f", t0.Add(time.Second)), Deliveries: []*core.Delivery{other}})
	ingest(t, s, core.IngestItem{Event: issueEvent(t, "e3", "high", "r", "s", "t", "f", t0.Add(2*time.Second))})
	by, err := s.DeliveriesOf(ctx, []string{"e1", "e2", "e3", "nope"}, nil)
	require.NoError(t, err)
	require.Len(t, by, 2, "events without deliveries have no entry")
	require.Equal(t, []string{hook.ID, slack.ID}, ids(by["e1"]))
	require.Equal(t, []string{other.ID}, ids(by["e2"]))
	by, err = s.DeliveriesOf(ctx, []string{"e1", "e2"}, []string{"slack"})
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"e1": {slack.ID}}, map[string][]string{"e1": ids(by["e1"])})
	require.Empty(t, by["e2"])
	by, err = s.DeliveriesOf(ctx, []string{"e1"}, []string{})
	require.NoError(t, err)
	require.Empty(t, by)

	holds, err := s.EventHolds(ctx, "e1", nil)
	require.NoError(t, err)
	require.Equal(t, []core.Hold{{Target: "teams", Route: "night", Key: "r", Member: true}}, holds)
	holds, err = s.EventHolds(ctx, "e1", []string{"wh_1"})
	require.NoError(t, err)
	require.Empty(t, holds)
}

func testRetryDeliveries(t *testing.T, s Store) {
	ctx := context.Background()
	var items []core.IngestItem
	var slackDead []*core.Delivery
	for i := range core.RetryBatch + 3 { // more than one batch
		d := delivery("slack", core.StateDead, "")
		d.CreatedAt = t0.Add(time.Duration(i) * time.Millisecond)
		slackDead = append(slackDead, d)
		items = append(items, core.IngestItem{Event: issueEvent(t, fmt.Sprintf("e%d", i), "low", "r", "s", "t", "f", t0), Deliveries: []*core.Delivery{d}})
	}
	mailDead, mailOK := delivery("mail", core.StateDead, ""), delivery("mail", core.StatePending, "")
	late := delivery("mail", core.StateDead, "")
	late.CreatedAt = t0.Add(time.Hour)
	items = append(items, core.IngestItem{Event: issueEvent(t, "m1", "low", "r", "s", "t", "f", t0), Deliveries: []*core.Delivery{mailDead}},
		core.IngestItem{Event: issueEvent(t, "m2", "low", "r", "s", "t", "f", t0), Deliveries: []*core.Delivery{mailOK}},
		core.IngestItem{Event: issueEvent(t, "m3", "low", "r", "s", "t", "f", t0), Deliveries: []*core.Delivery{late}})
	ingest(t, s, items...)

	now := t0.Add(2 * time.Hour)
	n, more, err := s.RetryDeliveries(ctx, core.RetryFilter{Target: "mail", To: t0.Add(time.Minute)}, now)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.False(t, more)
	n, _, err = s.RetryDeliveries(ctx, core.RetryFilter{Targets: []string{}}, now)
	require.NoError(t, err)
	require.Zero(t, n, "an empty target set revives nothing")
	n, more, err = s.RetryDeliveries(ctx, core.RetryFilter{Target: "slack"}, now)
	require.NoError(t, err)
	require.Equal(t, len(slackDead), n)
	require.False(t, more)

	dead, err := s.Deliveries(ctx, core.DeliveryFilter{State: core.StateDead})
	require.NoError(t, err)
	require.Equal(t, []string{late.ID}, ids(dead), "only the one outside the range is still dead")
	due := claim(t, s, "me", "slack", now, 1000)
	require.Len(t, due, len(slackDead), "revived deliveries are due at once")
}

func testEventsLongFields(t *testing.T, s Store) {
	long := strings.Repeat("é", core.ListFieldChars+50)
	ingest(t, s, core.IngestItem{Event: issueEvent(t, "e1", "low", long, "s", "t", "f", t0)})
	page, err := s.Events(context.Background(), core.EventFilter{Repository: long})
	require.NoError(t, err, "a filter value is cut as the stored one")
	require.Len(t, page.Events, 1)
	require.Equal(t, strings.Repeat("é", core.ListFieldChars), page.Events[0].Repository)
}
