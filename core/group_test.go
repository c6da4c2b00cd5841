package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/sender"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// groupRig runs the bridge's core (an engine) on a SQLite file with a fake clock for ingest
// and the scheduler, and targets that keep what they are sent: slack, discord, email with the
// built-in templates, and an audit target (no template) on its own route. It is a unit set-up:
// its tests step the clock by minutes and tick the scheduler by hand (RunDue), and read the
// rendered messages and their group notes, which no receiver sees.
type groupRig struct {
	t       *testing.T
	path    string
	clock   atomic.Int64
	routes  []*core.Route
	sinks   map[string]*captureNotifier
	store   *store.DB
	disp    *core.Dispatcher
	bus     *core.Bus
	sched   *core.Scheduler
	stopRun func()
}

func newGroupRig(t *testing.T, routes ...*core.Route) *groupRig {
	r := &groupRig{t: t, path: filepath.Join(t.TempDir(), "bridge.db"), routes: routes, sinks: map[string]*captureNotifier{}}
	for _, name := range []string{"slack", "discord", "email", "hook", "audit"} {
		r.sinks[name] = &captureNotifier{}
	}
	r.set("2026-03-02T10:00:00Z")
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *groupRig) now() time.Time { return time.Unix(0, r.clock.Load()).UTC() }

// set and advance move the fake clock once nothing is in flight: a jump of minutes would
// otherwise expire the leases of deliveries being sent and have them sent again.
func (r *groupRig) set(ts string) {
	tm, err := time.Parse(time.RFC3339, ts)
	require.NoError(r.t, err)
	r.idle()
	r.clock.Store(tm.UnixNano())
}

func (r *groupRig) advance(d time.Duration) {
	r.idle()
	r.clock.Add(int64(d))
}

func (r *groupRig) idle() {
	if r.disp != nil {
		require.Eventually(r.t, r.disp.Idle, 10*time.Second, time.Millisecond)
	}
}

// start opens the database and starts dispatcher, bus and scheduler: a process start.
func (r *groupRig) start() {
	t := r.t
	engine, err := templates.New("")
	require.NoError(t, err)
	router := &core.Router{Routes: append(r.routes, &core.Route{Name: "audit", When: matchAll{}, Targets: []string{"audit"}})}
	var targets []*core.Target
	for name, sink := range r.sinks {
		tg := &core.Target{Name: name, Type: name, Format: notify.FormatJSON, Notifier: sink, Concurrency: 1}
		if kind := adapters.Lookup(name); kind != nil {
			tg.Escape = kind.Escape
		}
		switch name {
		case "email":
			tg.Format = notify.FormatEmail
		case "audit":
			tg.Type, tg.Format = "file", notify.FormatNone
		case "hook":
			tg.Type, tg.Escape = "webhook", nil // no template: the original event, or a group's envelope
		}
		targets = append(targets, tg)
	}
	e := startEngine(t, r.path, core.DispatcherConfig{Owner: "o", PollInterval: 10 * time.Millisecond, NowFunc: r.now},
		&core.Plan{Targets: targets, Router: router, Renderer: &core.Renderer{Engine: engine}}, r.now)
	r.store, r.disp, r.bus = e.store, e.disp, e.bus
	r.sched = &core.Scheduler{Store: e.store, Owner: "o", Digests: func() []*core.DigestSpec { return nil },
		Plan: e.disp.Plan, NowFunc: r.now, Log: slog.New(slog.DiscardHandler)}
	r.stopRun = func() { e.close(); r.disp = nil }
}

func (r *groupRig) stop() {
	if r.stopRun != nil {
		r.stopRun()
		r.stopRun = nil
	}
}

func (r *groupRig) accept(body string) core.AcceptResult {
	r.t.Helper()
	ev, err := event.Parse([]byte(body))
	require.NoError(r.t, err)
	res, err := r.bus.Accept(context.Background(), ev)
	require.NoError(r.t, err)
	return res
}

func (r *groupRig) tick() {
	r.t.Helper()
	require.NoError(r.t, r.sched.RunDue(context.Background()))
}

// settle waits until every target has received want messages (and lets a stray extra show).
func (r *groupRig) settle(want map[string]int) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		for name, n := range want {
			if len(r.sinks[name].all()) < n {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	for name, n := range want {
		require.Len(r.t, r.sinks[name].all(), n, "messages to %s", name)
	}
}

func finding(id, scan, repo string, n int) string {
	return fmt.Sprintf(`{"event":"issue.critical","id":%q,"timestamp":"2026-03-02T10:00:00Z","data":{"scan_id":%q,"repo_url":"https://github.com/%s","issue_id":"i-%d","severity":"critical","title":"Hard-coded secret #%d","file":"config/app.py","line":%d}}`,
		id, scan, repo, n, n, n+1)
}

func scanFailed(id, repo string) string {
	return fmt.Sprintf(`{"event":"scan.failed","id":%q,"timestamp":"2026-03-02T10:00:00Z","data":{"scan_id":"s-%s","repo_url":"https://github.com/%s","error":"clone failed"}}`, id, id, repo)
}

func key(t *testing.T, src string) core.Keyer {
	k, err := rules.CompileKey(src)
	require.NoError(t, err)
	return k
}

func rule(t *testing.T, src string) core.Matcher {
	r, err := rules.Compile(src)
	require.NoError(t, err)
	return r
}

// TestGroupOfFortyFindings: the 40 findings of one scan reach each chat target as one message
// that counts and lists them within the platform's limits, and a webhook without a template as
// one envelope event listing them; the audit log still gets all 40.
func TestGroupOfFortyFindings(t *testing.T) {
	t.Parallel()
	r := newGroupRig(t, &core.Route{Name: "critical", When: rule(t, `event == "issue.critical"`), Targets: []string{"slack", "discord", "email", "hook"},
		Group: &core.GroupPolicy{By: []core.Keyer{key(t, "scan_id")}, Wait: 30 * time.Second, MaxWait: 5 * time.Minute}})
	for i := range 40 {
		res := r.accept(finding(fmt.Sprintf("f%02d", i), "scan-1", "acme/api", i))
		require.Equal(t, 4, res.Held)
		require.Equal(t, 1, res.Deliveries, "only the audit log's")
		r.advance(time.Second)
	}
	r.accept(finding("other", "scan-2", "acme/web", 99)) // another scan: its own group
	r.tick()
	r.advance(28 * time.Second) // 29 s after the last finding of scan-1
	r.tick()
	r.settle(map[string]int{"audit": 41, "slack": 0, "discord": 0, "email": 0, "hook": 0})
	r.advance(2 * time.Second) // 30 s after the last event of each scan
	r.tick()
	r.tick()
	r.settle(map[string]int{"audit": 41, "slack": 2, "discord": 2, "email": 2, "hook": 2})

	byScan := func(name string) map[string]*notify.Message {
		out := map[string]*notify.Message{}
		for _, m := range r.sinks[name].all() {
			out[m.Events[0].String("scan_id")] = m
		}
		return out
	}
	for _, name := range []string{"slack", "discord", "email", "hook"} {
		msgs := byScan(name)
		require.Len(t, msgs["scan-1"].Events, 40, name)
		require.Equal(t, 40, msgs["scan-1"].Group.Count, name)
		require.Len(t, msgs["scan-2"].Events, 1, name)
		require.Equal(t, "other", msgs["scan-2"].Event.ID, "%s: a group of one goes out as the event itself", name)
	}
	for _, name := range []string{"slack", "discord", "email"} {
		require.Equal(t, "f39", byScan(name)["scan-1"].Event.ID, "%s: templates see the latest event at top level", name)
	}
	env := byScan("hook")["scan-1"].Event
	require.Equal(t, core.GroupEventType, env.Type, "a target without a template gets the group's envelope")
	require.Equal(t, "scan-1", env.String("scan_id"), "with the fields all its events share")
	require.Equal(t, int64(40), env.Data["count"])
	require.Len(t, env.Data["events"], 40)
	var slack struct {
		Text        string `json:"text"`
		Attachments []struct {
			Blocks []json.RawMessage `json:"blocks"`
		} `json:"attachments"`
	}
	require.NoError(t, json.Unmarshal(byScan("slack")["scan-1"].Body, &slack))
	require.Contains(t, slack.Text, "40 critical findings in acme/api")
	require.LessOrEqual(t, len(slack.Attachments[0].Blocks), 50, "Slack's block limit")
	var discord struct {
		Embeds []struct {
			Title  string `json:"title"`
			Fields []struct{ Name, Value string }
		} `json:"embeds"`
	}
	require.NoError(t, json.Unmarshal(byScan("discord")["scan-1"].Body, &discord))
	require.Contains(t, discord.Embeds[0].Title, "40 critical issues on acme/api (scan scan-1)")
	require.LessOrEqual(t, len(discord.Embeds[0].Fields), 25, "Discord's field limit")
	require.Equal(t, "…and 16 more", discord.Embeds[0].Fields[24].Value)
	mail := byScan("email")["scan-1"]
	require.Contains(t, mail.Subject, "40 critical findings in acme/api")
	require.Contains(t, string(mail.Body), "40. CRITICAL: Hard-coded secret #39 — config/app.py:40")
}

const groupByScan = `
ingest: {secrets: ["{{.Secret}}"]}
targets:
  - {name: hook, type: webhook, url: "{{.Webhook}}/in", secret: "target-secret-0123456789"}
routes:
  - name: critical
    when: 'event == "issue.critical"'
    targets: [hook]
    group: {by: [scan_id], wait: 30s, max_wait: 5m}
`

// groupEnvelope is a fired group as a webhook without a template receives it.
type groupEnvelope struct {
	Event string
	Data  struct {
		ScanID string `json:"scan_id"`
		Count  int
		Events []struct{ ID string }
	}
}

// onlyGroup waits for the one post b's webhook receiver gets, and a scheduler pass (1 s) more
// for a second or stray one to show, and returns it as a group's envelope.
func onlyGroup(t *testing.T, b *bridgetest.Bundle) groupEnvelope {
	t.Helper()
	posts := b.Webhook.Wait(t, 1, 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	require.Len(t, b.Webhook.Posts(), 1)
	var env groupEnvelope
	require.NoError(t, json.Unmarshal(posts[0].Body, &env))
	require.Equal(t, core.GroupEventType, env.Event)
	return env
}

// TestOpenGroupSurvivesARestart: events acknowledged into an open group are delivered once after
// the bridge restarts, even when two replicas' schedulers fire it.
func TestOpenGroupSurvivesARestart(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	b := bridgetest.Start(t, groupByScan, bridgetest.WithNow(now))
	for i := range 5 {
		body, err := sender.Restamp([]byte(finding(fmt.Sprintf("f%d", i), "scan-1", "acme/api", i)), now())
		require.NoError(t, err)
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	b.WaitIdle(5 * time.Second)
	require.NoError(t, b.Stop()) // crash or restart inside the open group
	require.Zero(t, b.Webhook.Count())
	clock.Add(int64(time.Minute))
	bridgetest.Start(t, groupByScan, bridgetest.Sharing(b), bridgetest.WithNow(now), bridgetest.WithOwner("replica-1"))
	bridgetest.Start(t, groupByScan, bridgetest.Sharing(b), bridgetest.WithNow(now), bridgetest.WithOwner("replica-2"))
	env := onlyGroup(t, b)
	require.Equal(t, 5, env.Data.Count)
	require.Len(t, env.Data.Events, 5)
}

// groupClosesEarly is groupByScan with groups that wait an hour unless the scan completes.
var groupClosesEarly = strings.Replace(groupByScan, "{by: [scan_id], wait: 30s, max_wait: 5m}",
	`{by: [scan_id], wait: 1h, max_wait: 1h, close_on: 'event == "scan.completed"'}`, 1)

// TestGroupClosesEarly: on a running bridge, scan.completed for the scan fires its group at
// once, without being listed in it (it does not match the route); the other scan's group
// stays open.
func TestGroupClosesEarly(t *testing.T) {
	t.Parallel()
	b := bridgetest.Start(t, groupClosesEarly)
	for _, body := range []string{
		finding("f1", "scan-1", "acme/api", 1),
		finding("f2", "scan-1", "acme/api", 2),
		finding("g1", "scan-2", "acme/api", 3),
		`{"event":"scan.completed","id":"done-1","timestamp":"2026-03-02T10:00:00Z","data":{"scan_id":"scan-1","score":40}}`,
	} {
		stamped, err := sender.Restamp([]byte(body), time.Now())
		require.NoError(t, err)
		require.Equal(t, "accepted", b.Send(stamped).Status)
	}
	env := onlyGroup(t, b)
	require.Equal(t, "scan-1", env.Data.ScanID)
	var ids []string
	for _, ev := range env.Data.Events {
		ids = append(ids, ev.ID)
	}
	require.Equal(t, []string{"f1", "f2"}, ids)
}

// TestThrottleHoldsBackAndCounts: one message per repo per hour; what arrives in between goes out
// as one message when the hour is over, counted, and the audit log sees every event at once.
func TestThrottleHoldsBackAndCounts(t *testing.T) {
	t.Parallel()
	r := newGroupRig(t, &core.Route{Name: "failures", When: rule(t, `event == "scan.failed"`), Targets: []string{"slack"},
		Throttle: &core.ThrottlePolicy{Key: key(t, "repo"), Interval: time.Hour}})
	r.accept(scanFailed("a0", "acme/api"))
	r.tick()
	r.settle(map[string]int{"slack": 1, "audit": 1})
	require.Equal(t, "scan.failed", r.sinks["slack"].all()[0].Event.Type, "the first one goes out at once, as itself")

	r.set("2026-03-02T10:02:00Z")
	for i := range 5 {
		r.accept(scanFailed(fmt.Sprintf("a%d", i+1), "acme/api"))
		r.tick()
		r.advance(10 * time.Minute)
	}
	r.accept(scanFailed("w0", "acme/web")) // another repo is not held back by acme/api
	r.tick()
	r.settle(map[string]int{"slack": 2, "audit": 7})
	r.set("2026-03-02T11:00:00Z")
	r.tick()
	r.settle(map[string]int{"slack": 3})
	msg := r.sinks["slack"].all()[2]
	require.Len(t, msg.Events, 5)
	require.Equal(t, notify.PolicyThrottle, msg.Group.Policy)
	require.Equal(t, "+5 similar since 10:02 UTC · one message per 1h", msg.Group.Note())
	require.Contains(t, string(msg.Body), "+5 similar since 10:02 UTC")
	r.advance(time.Hour)
	r.tick()
	r.settle(map[string]int{"slack": 3})
}

// hours is a daily window [from, to) in UTC, standing in for an Alertmanager time interval.
type hours struct{ from, to int }

func (h hours) ContainsTime(t time.Time) bool {
	hr := t.UTC().Hour()
	if h.from <= h.to {
		return hr >= h.from && hr < h.to
	}
	return hr >= h.from || hr < h.to
}

// TestQuietHours: while muted, a hold route keeps events until the window ends and sends them
// then; a drop route does not send them at all; the audit log gets every one at once.
func TestQuietHours(t *testing.T) {
	t.Parallel()
	night := []core.TimeInterval{hours{22, 7}}
	r := newGroupRig(t,
		&core.Route{Name: "held", When: rule(t, `event == "scan.failed"`), Targets: []string{"slack"}, Mute: &core.MutePolicy{Mute: night}},
		&core.Route{Name: "dropped", When: rule(t, `event == "scan.failed"`), Targets: []string{"discord"}, Mute: &core.MutePolicy{Mute: night, Drop: true}},
		&core.Route{Name: "office", When: rule(t, `event == "scan.failed"`), Targets: []string{"email"}, Mute: &core.MutePolicy{Active: []core.TimeInterval{hours{9, 17}}}},
	)
	r.set("2026-03-02T12:00:00Z")
	r.accept(scanFailed("noon", "acme/api"))
	r.settle(map[string]int{"slack": 1, "discord": 1, "email": 1, "audit": 1})

	r.set("2026-03-02T23:00:00Z")
	r.accept(scanFailed("n1", "acme/api"))
	r.advance(3 * time.Hour)
	r.accept(scanFailed("n2", "acme/web"))
	r.tick()
	r.settle(map[string]int{"slack": 1, "discord": 1, "email": 1, "audit": 3})
	r.set("2026-03-03T07:00:00Z")
	r.tick()
	r.settle(map[string]int{"slack": 2, "discord": 1, "email": 1})
	msg := r.sinks["slack"].all()[1]
	require.Equal(t, []string{"n1", "n2"}, eventIDs(msg.Events))
	require.Contains(t, string(msg.Body), "held during quiet hours since 23:00 UTC")
	r.set("2026-03-03T09:00:00Z")
	r.tick()
	r.settle(map[string]int{"email": 2})
	require.Equal(t, []string{"n1", "n2"}, eventIDs(r.sinks["email"].all()[1].Events), "active_time: held until office hours")
}

// TestGroupNoteWording pins the note templates show for held-back messages.
func TestGroupNoteWording(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	for _, tc := range []struct {
		run  notify.GroupRun
		want string
	}{
		{notify.GroupRun{Policy: notify.PolicyThrottle, Count: 5, First: at("2026-03-02T10:02:00Z"), Last: at("2026-03-02T10:50:00Z"), Interval: "1h0m0s"}, "+5 similar since 10:02 UTC · one message per 1h"},
		{notify.GroupRun{Policy: notify.PolicyThrottle, Count: 2, First: at("2026-03-02T10:02:00Z"), Last: at("2026-03-04T10:50:00Z"), Interval: "30m0s"}, "+2 similar since Mar 2 10:02 UTC · one message per 30m"},
		{notify.GroupRun{Policy: notify.PolicyHold, Count: 3, First: at("2026-03-02T22:14:00Z"), Last: at("2026-03-03T06:00:00Z")}, "held during quiet hours since 22:14 UTC"},
		{notify.GroupRun{Policy: notify.PolicyGroup, Count: 40}, ""},
	} {
		require.Equal(t, tc.want, tc.run.Note())
	}
	require.False(t, strings.Contains((&notify.GroupRun{Policy: notify.PolicyThrottle, Interval: "1h30m0s"}).Note(), "0s"))
}

// TestRouteHoldingWords pins how route and the dashboard describe a route's holding rules.
func TestRouteHoldingWords(t *testing.T) {
	t.Parallel()
	night := []core.TimeInterval{hours{22, 7}}
	r := &core.Route{Group: &core.GroupPolicy{By: []core.Keyer{key(t, "scan_id")}, Wait: 30 * time.Second, MaxWait: 5 * time.Minute,
		CloseOn: rule(t, `event == "scan.completed"`)}, Mute: &core.MutePolicy{Mute: night, Drop: true}}
	require.Equal(t, []string{
		`grouped: one message per scan_id per target 30s after the last event, at most 5m after the first, or at once on event == "scan.completed"`,
		"quiet hours: while muted, events are not sent on this route (muted now)",
	}, r.Holding(time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)))
	require.Empty(t, (&core.Route{}).Holding(time.Now()))
}

// TestThrottleBurstSendsTheFirstAtOnce: a burst that arrives before the first tick still sends
// its first event at once, on its own; the rest wait for the end of the interval.
func TestThrottleBurstSendsTheFirstAtOnce(t *testing.T) {
	t.Parallel()
	r := newGroupRig(t, &core.Route{Name: "failures", When: rule(t, `event == "scan.failed"`), Targets: []string{"slack"},
		Throttle: &core.ThrottlePolicy{Key: key(t, "repo"), Interval: time.Hour}})
	for i := range 4 {
		r.accept(scanFailed(fmt.Sprint("b", i), "acme/api"))
		r.advance(time.Millisecond)
	}
	r.tick()
	r.tick()
	r.settle(map[string]int{"slack": 1})
	require.Equal(t, "b0", r.sinks["slack"].all()[0].Event.ID)
	r.advance(59 * time.Minute)
	r.tick()
	r.settle(map[string]int{"slack": 1})
	r.advance(time.Minute)
	r.tick()
	r.settle(map[string]int{"slack": 2})
	require.Equal(t, []string{"b1", "b2", "b3"}, eventIDs(r.sinks["slack"].all()[1].Events))
}

// TestGroupOfARemovedTargetIsCancelled: a group whose target a reload removed is kept as a
// cancelled delivery, not left pending for ever.
func TestGroupOfARemovedTargetIsCancelled(t *testing.T) {
	t.Parallel()
	r := newGroupRig(t, &core.Route{Name: "critical", When: rule(t, `event == "issue.critical"`), Targets: []string{"slack"},
		Group: &core.GroupPolicy{Wait: time.Minute, MaxWait: time.Hour}})
	r.accept(finding("f1", "scan-1", "acme/api", 1))
	gone := &core.Scheduler{Store: r.store, Owner: "o", Digests: func() []*core.DigestSpec { return nil }, NowFunc: r.now,
		Log: slog.New(slog.DiscardHandler), Plan: func() *core.Plan {
			return &core.Plan{Router: &core.Router{}} // the route and the target are gone
		}}
	require.NoError(t, gone.RunDue(context.Background()))
	ds, err := r.store.Deliveries(context.Background(), core.DeliveryFilter{Target: "slack"})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, core.StateCancelled, ds[0].State)
	require.Equal(t, "target no longer configured", ds[0].LastError)
}

// captureNotifier keeps every message it is given.
type captureNotifier struct {
	mu   sync.Mutex
	msgs []*notify.Message
}

func (c *captureNotifier) Notify(_ context.Context, m *notify.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *captureNotifier) all() []*notify.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*notify.Message(nil), c.msgs...)
}

// TestGroupOfHugeEventsListsThemCut: a group of events that each carry a string of 1 MiB goes to
// the chat and mail targets as group items, cut (core.GroupItemMaxString, GroupItemMaxBytes), so
// neither the loaded events nor the rendered message grow with the bodies; a webhook without a
// template still gets every body whole in its envelope, and a group of one goes out whole.
func TestGroupOfHugeEventsListsThemCut(t *testing.T) {
	t.Parallel()
	r := newGroupRig(t, &core.Route{Name: "critical", When: rule(t, `event == "issue.critical"`), Targets: []string{"slack", "discord", "email", "hook"},
		Group: &core.GroupPolicy{By: []core.Keyer{key(t, "scan_id")}, Wait: 30 * time.Second, MaxWait: 5 * time.Minute}})
	huge := strings.Repeat("é", 1<<19) // 1 MiB
	body := func(id, scan, title string) string {
		return fmt.Sprintf(`{"event":"issue.critical","id":%q,"timestamp":"2026-03-02T10:00:00Z","data":{"scan_id":%q,"repo_url":"https://github.com/acme/api","issue_id":"i","severity":"critical","title":%q,"file":"a.py"}}`, id, scan, title)
	}
	for i := range 4 {
		r.accept(body(fmt.Sprintf("f%d", i), "scan-1", huge))
	}
	alone := strings.Repeat("a", 100<<10) // the email of one event shows it thrice, within templates.max_output_bytes
	r.accept(body("alone", "scan-2", alone))
	r.advance(31 * time.Second)
	r.tick()
	r.settle(map[string]int{"audit": 5, "slack": 2, "discord": 2, "email": 2, "hook": 2})
	for _, name := range []string{"slack", "discord", "email", "hook"} {
		for _, m := range r.sinks[name].all() {
			if len(m.Events) == 1 {
				require.Equal(t, alone, m.Event.String("title"), "%s: a group of one is the event itself, whole", name)
				continue
			}
			require.Len(t, m.Events, 4, name)
			if name == "hook" {
				env := m.Event
				require.Equal(t, core.GroupEventType, env.Type)
				require.Greater(t, len(env.Raw), 4<<20, "the envelope carries every body whole")
				continue
			}
			for _, ev := range m.Events {
				title := ev.String("title")
				require.LessOrEqual(t, len(title), core.GroupItemMaxString, name)
				require.True(t, strings.HasSuffix(title, event.CutMark), name)
				require.True(t, strings.HasPrefix(huge, strings.TrimSuffix(title, event.CutMark)), "%s: cut at a rune boundary", name)
				require.LessOrEqual(t, len(ev.Raw), core.GroupItemMaxBytes+1024, name)
				require.Equal(t, "critical", ev.String("severity"), name)
			}
			require.Less(t, len(m.Body)+len(m.HTML), 200<<10, "%s: the message does not grow with the bodies", name)
		}
	}
}
