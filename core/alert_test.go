package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/sender"
)

// alertCounts records AlerterConfig.OnAlert calls.
type alertCounts struct {
	mu sync.Mutex
	n  map[[2]string]int
}

func (c *alertCounts) add(typ, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[[2]string]int{}
	}
	c.n[[2]string{typ, outcome}]++
}

func (c *alertCounts) get(typ, outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[[2]string{typ, outcome}]
}

// deadAlertConfig: target a (the webhook receiver's /a) fails, b (its /b) answers; Cortex
// events go to a, the bridge's alerts to {{.Alert}}. Two attempts: a's four failures in a row
// stay under its circuit breaker (5) and the alerter's failure streak (10), which would raise
// alerts of their own.
const deadAlertConfig = `
ingest: {secrets: ["{{"{{.Secret}}"}}"]}
delivery: {max_attempts: 2, backoff: {initial: 20ms, max: 100ms}}
targets:
  - {name: a, type: webhook, url: "{{"{{.Webhook}}"}}/a", secret: "target-secret-0123456789"}
  - {name: b, type: webhook, url: "{{"{{.Webhook}}"}}/b", secret: "target-secret-0123456789"}
routes:
  - {name: cortex, when: 'not (event startsWith "bridge.")', targets: [a]}
  - {name: bridge-alerts, when: 'event startsWith "bridge."', targets: [{{.Alert}}]{{.Throttle}}}
`

// TestDeadDeliveryRaisesOneAlert is issue 12's "done when": target a answers 500 until its
// delivery is dead; exactly one bridge.delivery_dead is delivered to the alert route's target,
// and when that target is a itself, the alert's own death raises nothing more. (The same
// completion seen twice making one alert is TestAlerterDeliveryDead's.)
func TestDeadDeliveryRaisesOneAlert(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		alertTarget string
		throttle    bool // the alert route throttles: alerts go out as groups
	}{
		"alert goes to another target":               {alertTarget: "b"},
		"alert goes to the failing target":           {alertTarget: "a"},
		"throttled alert goes to the failing target": {alertTarget: "a", throttle: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var yaml strings.Builder
			throttle := ""
			if tc.throttle {
				throttle = ", throttle: {interval: 1h}"
			}
			require.NoError(t, template.Must(template.New("").Parse(deadAlertConfig)).Execute(&yaml,
				map[string]string{"Alert": tc.alertTarget, "Throttle": throttle}))
			b := bridgetest.Start(t, yaml.String())
			b.Webhook.Answer(func(_ int, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/a" {
					http.Error(w, "down", http.StatusInternalServerError)
				}
			})
			posts := func(path string) (out []bridgetest.Post) {
				for _, p := range b.Webhook.Posts() {
					if p.Path == path {
						out = append(out, p)
					}
				}
				return out
			}

			body, err := sender.Restamp([]byte(`{"event":"scan.failed","id":"evt_dead_1","timestamp":"2026-01-01T00:00:00Z",`+
				`"data":{"scan_id":"scan_9","repo_url":"https://github.com/acme/api","error":"boom"}}`), time.Now())
			require.NoError(t, err)
			res := b.Send(body)
			require.Equal(t, "accepted", res.Status)
			require.Equal(t, 1, res.Deliveries)

			if tc.alertTarget == "b" {
				require.Eventually(t, func() bool { return len(posts("/b")) == 1 }, 30*time.Second, 10*time.Millisecond)
				var got struct {
					Event string         `json:"event"`
					ID    string         `json:"id"`
					Data  map[string]any `json:"data"`
				}
				require.NoError(t, json.Unmarshal(posts("/b")[0].Body, &got))
				require.Equal(t, core.EventDeliveryDead, got.Event)
				require.Equal(t, "a", got.Data["target"])
				require.Equal(t, "cortex", got.Data["route"])
				require.Equal(t, "evt_dead_1", got.Data["event_id"])
				require.Equal(t, "scan.failed", got.Data["event"])
				require.EqualValues(t, 2, got.Data["attempts"])
				require.Equal(t, "server_error", got.Data["reason"])
				require.EqualValues(t, 500, got.Data["status_code"])
				require.Contains(t, got.Data["last_error"], "HTTP 500")
				require.Equal(t, "scan_9", got.Data["scan_id"])
				require.Equal(t, "https://github.com/acme/api", got.Data["repo_url"])
				require.Equal(t, core.EventDeliveryDead+":"+got.Data["delivery_id"].(string)+":2", got.ID)
				require.Len(t, posts("/a"), 2)
			} else {
				// The alert is delivered to a, fails like everything else there and dies: that
				// death is suppressed, not reported.
				require.Eventually(t, func() bool { return alertCount(t, b, core.EventDeliveryDead, core.AlertSuppressed) == 1 },
					30*time.Second, 10*time.Millisecond)
				require.Len(t, posts("/a"), 4, "2 attempts at the event, 2 at its alert")
			}

			b.WaitIdle(30 * time.Second)
			all, err := b.Store.Deliveries(context.Background(), core.DeliveryFilter{})
			require.NoError(t, err)
			byType := map[string][]*core.Delivery{}
			for _, d := range all {
				byType[d.EventType] = append(byType[d.EventType], d)
			}
			require.Len(t, byType["scan.failed"], 1)
			require.Equal(t, core.StateDead, byType["scan.failed"][0].State)
			alertType := core.EventDeliveryDead
			if tc.throttle {
				alertType = core.GroupEventType // the alert, held by the throttle, went out as a group
			}
			require.Len(t, byType[alertType], 1, "exactly one alert")
			require.Equal(t, tc.alertTarget, byType[alertType][0].Target)
			require.Len(t, all, 2, "nothing else: no alert about the alert")
			require.Equal(t, 1, alertCount(t, b, core.EventDeliveryDead, core.AlertRaised))
			if tc.alertTarget == "b" {
				require.Equal(t, core.StateSucceeded, byType[core.EventDeliveryDead][0].State)
				require.Len(t, posts("/b"), 1)
			} else {
				require.Equal(t, core.StateDead, byType[alertType][0].State)
				require.Empty(t, posts("/b"))
			}
		})
	}
}

// alertCount is the bridge's cortex_bridge_alerts_total for an alert type and outcome.
func alertCount(t *testing.T, b *bridgetest.Bundle, typ, outcome string) int {
	t.Helper()
	families, err := b.Bridge.Metrics().Registry().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "cortex_bridge_alerts_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["type"] == typ && labels["outcome"] == outcome {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

// alertSink is a core.Acceptor that records alerts and deduplicates by id like the store.
type alertSink struct {
	mu     sync.Mutex
	events []*event.Event
	seen   map[string]bool
	err    error
	calls  int
}

func (s *alertSink) Accept(_ context.Context, ev *event.Event) (core.AcceptResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return core.AcceptResult{}, s.err
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if s.seen[ev.ID] {
		return core.AcceptResult{Duplicate: true}, nil
	}
	s.seen[ev.ID] = true
	s.events = append(s.events, ev)
	return core.AcceptResult{Deliveries: 1}, nil
}

func (s *alertSink) got() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

type alerterBundle struct {
	alerter *core.Alerter
	sink    *alertSink
	counts  *alertCounts
	log     func(*core.Delivery, core.Attempt, core.State)
	obs     core.Observer
	now     time.Time
	seq     int
}

// setupAlerter runs an Alerter against an alertSink; streak is its FailureStreak. A unit
// set-up on purpose: its tests feed attempts by hand with a fixed clock and read the alerts
// raised; an alert's way to a receiver is TestDeadDeliveryRaisesOneAlert's (bridgetest).
func setupAlerter(t *testing.T, streak int) *alerterBundle {
	t.Helper()
	b := &alerterBundle{sink: &alertSink{}, counts: &alertCounts{}, now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	b.alerter = core.NewAlerter(core.AlerterConfig{FailureStreak: streak, OnAlert: b.counts.add, NowFunc: func() time.Time { return b.now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b.log = b.alerter.AttemptLog(nil)
	b.obs = b.alerter.Observer(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.alerter.Run(ctx, b.sink); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return b
}

// attempt reports one attempt at an event of typ to target: outcome "success" or a Reason.
func (b *alerterBundle) attempt(typ, target, outcome string, state core.State) {
	b.seq++
	ev, err := event.Parse([]byte(`{"event":"` + typ + `","id":"evt","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s1"}}`))
	if err != nil {
		panic(err)
	}
	d := &core.Delivery{ID: fmt.Sprintf("dl-%d", b.seq), EventID: ev.ID, Target: target, Route: "r", Event: ev}
	a := core.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: b.now, Outcome: outcome}
	if outcome != "success" {
		a.Error = outcome + ": HTTP 503 from https://hooks.example.com/services/T000/B000/s3cr3t?token=abc"
	}
	b.now = b.now.Add(time.Second)
	b.log(d, a, state)
}

// wait returns the alerts stored once n are.
func (b *alerterBundle) wait(t *testing.T, n int) []*event.Event {
	t.Helper()
	require.Eventually(t, func() bool { return len(b.sink.got()) >= n }, 30*time.Second, 5*time.Millisecond)
	return b.sink.got()
}

// flush makes sure every alert raised so far is stored: alerts are stored in order, so once a
// marker alert is, the ones before it are too. It returns the alerts, the marker's left out.
func (b *alerterBundle) flush(t *testing.T) []*event.Event {
	t.Helper()
	const marker = "marker-target"
	b.attempt("scan.marker", marker, "client_error", core.StateDead)
	var out []*event.Event
	require.Eventually(t, func() bool {
		out = out[:0]
		found := false
		for _, ev := range b.sink.got() {
			if ev.String("target") == marker {
				found = found || ev.String("event") == "scan.marker"
				continue
			}
			out = append(out, ev)
		}
		return found
	}, 30*time.Second, 5*time.Millisecond)
	return out
}

func types(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type + " " + ev.String("target") + " " + ev.String("reason")
	}
	return out
}

func TestAlerterTargetHealthOncePerEpisode(t *testing.T) {
	t.Parallel()
	type step func(b *alerterBundle)
	fail := func(target string) step {
		return func(b *alerterBundle) { b.attempt("scan.completed", target, "server_error", core.StatePending) }
	}
	ok := func(target string) step {
		return func(b *alerterBundle) { b.attempt("scan.completed", target, "success", core.StateSucceeded) }
	}
	failAlert := func(target string) step {
		return func(b *alerterBundle) { b.attempt(core.EventDeliveryDead, target, "server_error", core.StatePending) }
	}
	circuit := func(target string, open bool) step {
		return func(b *alerterBundle) { b.obs.CircuitOpen(target, open) }
	}
	times := func(n int, s step) step {
		return func(b *alerterBundle) {
			for range n {
				s(b)
			}
		}
	}
	tests := map[string]struct {
		streak     int
		steps      []step
		want       []string
		suppressed int
	}{
		"a streak reports once, a success recovers": {
			streak: 3,
			steps:  []step{times(7, fail("x")), circuit("x", true), circuit("x", true), ok("x"), circuit("x", false)},
			want:   []string{"bridge.target_unhealthy x failure_streak", "bridge.target_recovered x failure_streak"},
		},
		"an opening circuit reports before the streak": {
			streak: 10,
			steps:  []step{times(5, fail("x")), circuit("x", true), circuit("x", true), fail("x"), circuit("x", true), circuit("x", false)},
			want:   []string{"bridge.target_unhealthy x circuit_open", "bridge.target_recovered x circuit_open"},
		},
		"a second episode is reported again": {
			streak: 2,
			steps:  []step{times(2, fail("x")), ok("x"), times(3, fail("x")), ok("x")},
			want: []string{"bridge.target_unhealthy x failure_streak", "bridge.target_recovered x failure_streak",
				"bridge.target_unhealthy x failure_streak", "bridge.target_recovered x failure_streak"},
		},
		"rate limits and template errors are not the target's failures": {
			streak: 2,
			steps: []step{times(5, func(b *alerterBundle) { b.attempt("scan.completed", "x", "rate_limited", core.StatePending) }),
				times(5, func(b *alerterBundle) { b.attempt("scan.completed", "x", "template", core.StateDead) })},
			want: []string{"bridge.delivery_dead x template", "bridge.delivery_dead x template", "bridge.delivery_dead x template",
				"bridge.delivery_dead x template", "bridge.delivery_dead x template"},
		},
		"failed alert deliveries never report their target": {
			streak:     2,
			steps:      []step{times(10, failAlert("ops")), circuit("ops", true), circuit("ops", true), circuit("ops", false)},
			suppressed: 1,
		},
		"a circuit opened by alerts reports once a Cortex event fails too": {
			streak:     10,
			steps:      []step{times(5, failAlert("ops")), circuit("ops", true), fail("ops"), circuit("ops", true), circuit("ops", true)},
			want:       []string{"bridge.target_unhealthy ops circuit_open"},
			suppressed: 1,
		},
		"targets are reported apart": {
			streak: 2,
			steps:  []step{fail("x"), fail("y"), ok("y"), fail("x"), fail("y")},
			want:   []string{"bridge.target_unhealthy x failure_streak"},
		},
		"a streak of -1 leaves it to the circuit": {
			streak: -1,
			steps:  []step{times(50, fail("x"))},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupAlerter(t, tc.streak)
			for _, s := range tc.steps {
				s(b)
			}
			got := b.flush(t)
			if len(tc.want) == 0 {
				require.Empty(t, got, "alerts: %v", types(got))
			} else {
				require.Equal(t, tc.want, types(got))
			}
			require.Equal(t, tc.suppressed, b.counts.get(core.EventTargetUnhealthy, core.AlertSuppressed))
			ids := map[string]bool{}
			for _, ev := range got {
				require.False(t, ids[ev.ID], "ids differ between episodes: %s", ev.ID)
				ids[ev.ID] = true
				if ev.Type == core.EventTargetUnhealthy || ev.Type == core.EventTargetRecovered {
					require.Regexp(t, `^bridge\.target_(unhealthy|recovered):`+ev.String("target")+`:\d+$`, ev.ID)
					require.NotContains(t, ev.String("last_error"), "s3cr3t")
					require.NotContains(t, ev.String("last_error"), "token=abc")
					require.Contains(t, ev.String("last_error"), "https://hooks.example.com/<redacted>")
					_, err := time.Parse(time.RFC3339Nano, ev.String("since"))
					require.NoError(t, err)
				}
			}
			if len(got) >= 2 && got[1].Type == core.EventTargetRecovered {
				require.Equal(t, got[0].String("since"), got[1].String("since"))
				require.GreaterOrEqual(t, got[1].Data["failures"], got[0].Data["failures"])
			}
		})
	}
}

func TestAlerterDeliveryDead(t *testing.T) {
	t.Parallel()
	b := setupAlerter(t, 0)
	ev, err := event.Parse([]byte(`{"event":"issue.critical","id":"evt_7","timestamp":"2026-01-01T00:00:00Z",` +
		`"data":{"scan_id":"scan_1","issue_id":"i","severity":"high","title":"t","repo_url":"https://github.com/acme/api"}}`))
	require.NoError(t, err)
	d := &core.Delivery{ID: "0194-dl", EventID: ev.ID, Target: "security-slack", Route: "critical-issues", Event: ev}
	a := core.Attempt{DeliveryID: d.ID, Number: 4, Outcome: "client_error", StatusCode: 404,
		Error: "client_error (status 404): HTTP 404 from https://hooks.slack.com/services/T0/B0/XXXX"}
	b.log(d, a, core.StatePending) // not dead yet: nothing
	b.log(d, a, core.StateDead)
	b.log(d, a, core.StateDead) // the same completion again: the same id, stored once
	got := b.flush(t)
	require.Len(t, got, 1)
	alert := got[0]
	require.Equal(t, core.EventDeliveryDead, alert.Type)
	require.Equal(t, "bridge.delivery_dead:0194-dl:4", alert.ID)
	require.Equal(t, map[string]any{
		"delivery_id": "0194-dl",
		"event_id":    "evt_7",
		"event":       "issue.critical",
		"target":      "security-slack",
		"route":       "critical-issues",
		"attempts":    int64(4),
		"reason":      "client_error",
		"status_code": int64(404),
		"last_error":  "client_error (status 404): HTTP 404 from https://hooks.slack.com/<redacted>",
		"repo_url":    "https://github.com/acme/api",
		"scan_id":     "scan_1",
	}, alert.Data)
	require.Equal(t, 1, b.counts.get(core.EventDeliveryDead, core.AlertDuplicate))

	// Stored events are parsed again when their deliveries are claimed.
	again, err := event.Parse(alert.Raw)
	require.NoError(t, err)
	require.Equal(t, alert.Data, again.Data)

	// Its data fields are the sample's, which templates and `route --sample` use.
	sample, err := samples.Get(core.EventDeliveryDead)
	require.NoError(t, err)
	sev, err := event.Parse(sample)
	require.NoError(t, err)
	require.ElementsMatch(t, slices.Collect(maps.Keys(sev.Data)), slices.Collect(maps.Keys(alert.Data)))
}

// TestAlerterNoLoop: a dead delivery of an alert raises nothing, whatever its target.
func TestAlerterNoLoop(t *testing.T) {
	t.Parallel()
	b := setupAlerter(t, 1)
	for _, typ := range core.AlertTypes {
		b.attempt(typ, "ops", "server_error", core.StateDead)
	}
	require.Empty(t, b.flush(t))
	require.Equal(t, len(core.AlertTypes), b.counts.get(core.EventDeliveryDead, core.AlertSuppressed))
}

func TestAlerterDigestFailed(t *testing.T) {
	t.Parallel()
	b := setupAlerter(t, 0)
	from, to := time.Date(2026, 2, 23, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	run, err := core.NewDigestEvent("digest_weekly_20260302T080000Z", core.DigestRun{Digest: "weekly", Template: "compliance-digest", From: from, To: to}, to)
	require.NoError(t, err)
	d := &core.Delivery{ID: "dl-digest", EventID: run.ID, Target: "compliance-mail", Route: core.DigestRoute("weekly"), Event: run}
	b.log(d, core.Attempt{DeliveryID: d.ID, Number: 4, Outcome: "server_error", Error: "server_error: SMTP 451 try later"}, core.StateDead)
	got := b.flush(t)
	require.Len(t, got, 1)
	require.Equal(t, core.EventDigestFailed, got[0].Type)
	require.Equal(t, "bridge.digest_failed:digest_weekly_20260302T080000Z:4", got[0].ID)
	require.Equal(t, map[string]any{"digest": "weekly", "delivery_id": "dl-digest", "target": "compliance-mail", "attempts": int64(4),
		"error": "server_error: SMTP 451 try later", "from": "2026-02-23T08:00:00Z", "to": "2026-03-02T08:00:00Z"}, got[0].Data)
	sample, err := samples.Get(core.EventDigestFailed)
	require.NoError(t, err)
	sev, err := event.Parse(sample)
	require.NoError(t, err)
	require.ElementsMatch(t, slices.Collect(maps.Keys(sev.Data)), slices.Collect(maps.Keys(got[0].Data)))
}

// TestAlerterNeverBlocks: a full queue drops alerts (counted) instead of making the worker
// wait; after Run stops, alerts are dropped too; a closed bus is not retried.
func TestAlerterNeverBlocks(t *testing.T) {
	t.Parallel()
	counts := &alertCounts{}
	alerter := core.NewAlerter(core.AlerterConfig{QueueSize: 1, OnAlert: counts.add, Log: slog.New(slog.DiscardHandler)})
	log := alerter.AttemptLog(nil)
	ev, err := event.Parse([]byte(`{"event":"scan.failed","id":"e","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s"}}`))
	require.NoError(t, err)
	for i := range 3 {
		d := &core.Delivery{ID: "d" + string(rune('0'+i)), EventID: "e", Target: "x", Route: "r", Event: ev}
		log(d, core.Attempt{DeliveryID: d.ID, Number: 1, Outcome: "client_error", Error: "nope"}, core.StateDead)
	}
	require.Equal(t, 2, counts.get(core.EventDeliveryDead, core.AlertDropped), "one queued, two dropped, none waited")

	sink := &alertSink{err: core.ErrClosed}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { alerter.Run(ctx, sink); close(done) }()
	require.Eventually(t, func() bool { return counts.get(core.EventDeliveryDead, core.AlertDropped) == 3 }, 30*time.Second, 5*time.Millisecond)
	sink.mu.Lock()
	require.Equal(t, 1, sink.calls, "a closed bus is not retried")
	sink.mu.Unlock()
	cancel()
	<-done
	d := &core.Delivery{ID: "late", EventID: "e", Target: "x", Route: "r", Event: ev}
	log(d, core.Attempt{DeliveryID: d.ID, Number: 1, Outcome: "client_error", Error: "nope"}, core.StateDead)
	require.Equal(t, 4, counts.get(core.EventDeliveryDead, core.AlertDropped), "after Run stopped: dropped at once")
}

func TestReservedEventTypes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		bridge, reserved, webhooksGet bool
	}{
		"bridge.delivery_dead": {bridge: true, reserved: true},
		"bridge.anything":      {bridge: true, reserved: true},
		core.DigestEventType:   {reserved: true},
		"cortex_bridge.group":  {reserved: true, webhooksGet: true},
		"scan.completed":       {webhooksGet: true},
		"bridgeish.event":      {webhooksGet: true},
	}
	w := &core.Webhook{Events: []string{"*"}, Active: true}
	for typ, tc := range tests {
		require.Equal(t, tc.bridge, core.IsBridgeEvent(typ), typ)
		require.Equal(t, tc.reserved, core.IsReservedEventType(typ), typ)
		require.Equal(t, tc.webhooksGet, w.Wants(typ), "registered webhooks on * get %s", typ)
	}
	require.False(t, (&core.Webhook{Events: []string{core.EventDeliveryDead}}).Wants(core.EventDeliveryDead),
		"not even when named: alerts are about the operator's targets")
}

// TestAlertsPassBackpressure: while the delivery queue is over its limit, Cortex events are
// refused but the bridge's alerts (few, and needed most then) are still accepted.
func TestAlertsPassBackpressure(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	_, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { <-release })
	b := setup(t, setupOpts{url: url})
	t.Cleanup(func() { close(release) }) // before the server closes: cleanups run last first
	b.bus.SetMaxPending(1)
	require.Equal(t, 1, accept(t, b, "evt_first").Deliveries) // its delivery hangs: 1 unfinished
	require.Equal(t, 1, accept(t, b, "evt_next").Deliveries)  // 2 unfinished: more than 1

	ev, err := event.Parse([]byte(`{"event":"scan.failed","id":"evt_second","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s"}}`))
	require.NoError(t, err)
	_, err = b.bus.Accept(context.Background(), ev)
	require.ErrorIs(t, err, core.ErrQueueFull)

	body, err := samples.Get(core.EventTargetUnhealthy)
	require.NoError(t, err)
	alert, err := event.Parse(body)
	require.NoError(t, err)
	res, err := b.bus.Accept(context.Background(), alert)
	require.NoError(t, err)
	require.Equal(t, 1, res.Deliveries)
}

// TestAlerterDeadGroup: a held message that dies says which group it was; a group of alerts
// that dies raises nothing.
func TestAlerterDeadGroup(t *testing.T) {
	t.Parallel()
	b := setupAlerter(t, 0)
	group := func(id string, bridge bool) *event.Event {
		ev, err := event.Parse([]byte(fmt.Sprintf(`{"event":%q,"id":%q,"timestamp":"2026-01-01T00:00:00Z",`+
			`"data":{"route":"critical","target":"chat","key":"scan-1","policy":"group","bridge":%t}}`, core.GroupEventType, id, bridge)))
		require.NoError(t, err)
		return ev
	}
	a := core.Attempt{Number: 4, Outcome: "server_error", StatusCode: 500, Error: "server_error (status 500)"}
	b.log(&core.Delivery{ID: "dl-1", EventID: "group_1", Target: "chat", Route: "critical", Event: group("group_1", false)}, a, core.StateDead)
	b.log(&core.Delivery{ID: "dl-2", EventID: "group_2", Target: "chat", Route: "alerts", Event: group("group_2", true)}, a, core.StateDead)
	got := b.flush(t)
	require.Len(t, got, 1)
	require.Equal(t, "group_1", got[0].Data["event_id"])
	require.Equal(t, "scan-1", got[0].Data["group_key"])
	require.Equal(t, "group", got[0].Data["group_policy"])
	require.Equal(t, 1, b.counts.get(core.EventDeliveryDead, core.AlertSuppressed))
}
