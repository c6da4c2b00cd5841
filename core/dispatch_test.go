package core_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

type matchAll struct{}

type idIs string

func (id idIs) Match(ev *event.Event) (bool, error) { return ev.ID == string(id), nil }

func (matchAll) Match(*event.Event) (bool, error) { return true, nil }

// receiver is a loopback webhook receiver whose answers a test scripts.
type receiver struct {
	mu       sync.Mutex
	times    []time.Time
	bodies   [][]byte
	answer   func(n int, w http.ResponseWriter, r *http.Request) // n: 1-based request number
	received chan struct{}
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) (*receiver, string) {
	rc := &receiver{answer: answer, received: make(chan struct{}, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.times = append(rc.times, time.Now())
		rc.bodies = append(rc.bodies, b)
		n := len(rc.times)
		rc.mu.Unlock()
		rc.received <- struct{}{}
		if rc.answer != nil {
			rc.answer(n, w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.times)
}

func (rc *receiver) at(i int) time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.times[i]
}

// bundle is setup's engine. setup is a unit set-up on purpose: its tests count the
// dispatcher's attempts and time its retries against one webhook target whose breaker, queue
// size, concurrency and drain timeout they choose, which a config does not set.
type bundle = engine

type setupOpts struct {
	url         string
	routes      []*core.Route
	retry       core.RetryPolicy
	timeout     time.Duration
	queueSize   int
	concurrency int
	templateDir string
	breaker     core.BreakerPolicy
	drain       time.Duration
	nowFunc     func() time.Time // the dispatcher's clock; nil: time.Now
	name        string           // the target's name; "": "hook"
	findings    core.FindingsPolicy
}

// calledFrom reports whether the caller of the function that calls it runs inside fn (a
// function name qualified by its package's last element, "core.(*Dispatcher).attempt").
func calledFrom(fn string) bool {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "/"+fn) {
			return true
		}
		if !more {
			return false
		}
	}
}

func setup(t *testing.T, o setupOpts) *bundle {
	t.Helper()
	n, err := webhook.New(&webhook.Config{URL: o.url, Secret: "test-secret-value"}, nil, "test")
	require.NoError(t, err)
	if o.name == "" {
		o.name = "hook"
	}
	target := &core.Target{Name: o.name, Type: "webhook", Format: notify.FormatJSON, Notifier: n, Concurrency: max(o.concurrency, 1), Breaker: o.breaker}
	if o.breaker == (core.BreakerPolicy{}) {
		target.Breaker.Failures = -1 // most tests count exact attempts; the breaker has its own test
	}
	if o.routes == nil {
		o.routes = []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{o.name}}}
	}
	if o.retry.MaxAttempts == 0 {
		o.retry = core.RetryPolicy{MaxAttempts: 4, Initial: 50 * time.Millisecond, Max: 2 * time.Second}
	}
	engine, err := templates.New(o.templateDir)
	require.NoError(t, err)
	return startEngine(t, "", core.DispatcherConfig{
		Timeout: o.timeout, PollInterval: 20 * time.Millisecond, QueueSize: o.queueSize, DrainTimeout: o.drain, NowFunc: o.nowFunc,
	}, &core.Plan{Targets: []*core.Target{target}, Router: &core.Router{Routes: o.routes}, Renderer: &core.Renderer{Engine: engine}, Retry: o.retry, Findings: o.findings}, nil)
}

func accept(t *testing.T, b *bundle, id string) core.AcceptResult {
	t.Helper()
	body := fmt.Sprintf(`{"event":"scan.failed","id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","error":"boom"}}`, id)
	ev, err := event.Parse([]byte(body))
	require.NoError(t, err)
	res, err := b.bus.Accept(context.Background(), ev)
	require.NoError(t, err)
	return res
}

// waitDelivery waits until the event's delivery reaches a final state and returns it.
func waitDelivery(t *testing.T, b *bundle, eventID string, within time.Duration) *core.Delivery {
	t.Helper()
	var got *core.Delivery
	require.Eventually(t, func() bool {
		ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{Limit: 1000})
		require.NoError(t, err)
		for _, d := range ds {
			if d.EventID == eventID && (d.State == core.StateSucceeded || d.State == core.StateDead) {
				got = d
				return true
			}
		}
		return false
	}, within, 10*time.Millisecond)
	return got
}

func attempts(t *testing.T, b *bundle, d *core.Delivery) []core.Attempt {
	t.Helper()
	as, err := b.store.Attempts(context.Background(), d.ID)
	require.NoError(t, err)
	return as
}

func TestOneDeliveryPerTargetAcrossRoutes(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, nil)
	b := setup(t, setupOpts{url: url, routes: []*core.Route{
		{Name: "first", When: matchAll{}, Targets: []string{"hook"}},
		{Name: "second", When: matchAll{}, Targets: []string{"hook", "hook"}},
	}})
	require.Equal(t, core.AcceptResult{Deliveries: 1}, accept(t, b, "e1"))
	d := waitDelivery(t, b, "e1", 5*time.Second)
	require.Equal(t, core.StateSucceeded, d.State)
	require.Equal(t, "first", d.Route)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, 1, rc.count())
}

func TestStopEndsRouteEvaluation(t *testing.T) {
	t.Parallel()
	router := &core.Router{Routes: []*core.Route{
		{Name: "a", When: matchAll{}, Targets: []string{"x"}, Stop: true},
		{Name: "b", When: matchAll{}, Targets: []string{"y"}},
	}}
	ev, err := event.Parse([]byte(`{"event":"x","id":"e","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
	require.NoError(t, err)
	got := router.Assign(ev, func(string) bool { return true })
	require.Len(t, got, 1)
	require.Equal(t, "x", got[0].Target)
}

func TestRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("upstream down"))
		}
	})
	b := setup(t, setupOpts{url: url})
	accept(t, b, "e1")
	d := waitDelivery(t, b, "e1", 10*time.Second)
	require.Equal(t, core.StateSucceeded, d.State)
	require.Equal(t, 3, d.Attempts)
	as := attempts(t, b, d)
	require.Len(t, as, 3)
	require.Equal(t, []string{"server_error", "server_error", "success"}, []string{as[0].Outcome, as[1].Outcome, as[2].Outcome})
	require.Equal(t, 502, as[0].StatusCode)
	require.Equal(t, "upstream down", as[0].Response)
	require.Equal(t, 3, rc.count())
}

func TestPermanentFailureIsDeadAfterOneAttempt(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"error":"unknown field"}`))
	})
	b := setup(t, setupOpts{url: url})
	accept(t, b, "e1")
	d := waitDelivery(t, b, "e1", 5*time.Second)
	require.Equal(t, core.StateDead, d.State)
	require.Contains(t, d.LastError, "422")
	require.Len(t, attempts(t, b, d), 1)
	time.Sleep(150 * time.Millisecond)
	require.Equal(t, 1, rc.count())
}

func TestMaxAttemptsThenDead(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	b := setup(t, setupOpts{url: url, retry: core.RetryPolicy{MaxAttempts: 3, Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}})
	accept(t, b, "e1")
	d := waitDelivery(t, b, "e1", 10*time.Second)
	require.Equal(t, core.StateDead, d.State)
	require.Equal(t, 3, d.Attempts)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, 3, rc.count(), "no attempt after max_attempts")
}

// TestCase_C04_RetryAfterPausesTheTarget: a 429 with Retry-After: 3 delays that delivery and every
// other delivery to the target by at least 3 s; the event is delivered once.
func TestCase_C04_RetryAfterPausesTheTarget(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
		}
	})
	b := setup(t, setupOpts{url: url, concurrency: 2, retry: core.RetryPolicy{MaxAttempts: 4, Initial: 10 * time.Millisecond, Max: 10 * time.Second}})
	accept(t, b, "e1")
	<-rc.received
	// The worker pauses the target before it records the attempt (attempt.go), so once the
	// 429's attempt is stored the pause is in force for e2.
	require.Eventually(t, func() bool {
		ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{})
		return err == nil && len(ds) == 1 && ds[0].Attempts == 1
	}, 10*time.Second, 5*time.Millisecond, "the 429 reached the worker")
	accept(t, b, "e2")
	first := waitDelivery(t, b, "e1", 10*time.Second)
	second := waitDelivery(t, b, "e2", 10*time.Second)
	require.Equal(t, core.StateSucceeded, first.State)
	require.Equal(t, core.StateSucceeded, second.State)
	require.Equal(t, 3, rc.count(), "e1 twice (429, then 200) and e2 once")
	for i := 1; i < 3; i++ {
		require.GreaterOrEqual(t, rc.at(i).Sub(rc.at(0)), 3*time.Second, "request %d came before Retry-After passed", i+1)
	}
	as := attempts(t, b, first)
	require.Equal(t, "rate_limited", as[0].Outcome)
	require.Equal(t, 429, as[0].StatusCode)
}

// TestCase_C06_AmbiguousTimeout: a receiver that answers only after delivery.timeout gets
// retries spaced by the backoff and capped by max_attempts, each logged as possibly delivered.
func TestCase_C06_AmbiguousTimeout(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	b := setup(t, setupOpts{url: url, timeout: 150 * time.Millisecond,
		retry: core.RetryPolicy{MaxAttempts: 3, Initial: 400 * time.Millisecond, Max: 5 * time.Second}})
	accept(t, b, "e1")
	d := waitDelivery(t, b, "e1", 15*time.Second)
	require.Equal(t, core.StateDead, d.State)
	as := attempts(t, b, d)
	require.Len(t, as, 3)
	for _, a := range as {
		require.Equal(t, "timeout", a.Outcome)
		require.Contains(t, a.Error, "possibly delivered")
	}
	// An attempt whose 150 ms ran out before a starved receiver read the request never reaches
	// the handler, so the receiver may count fewer requests than attempts, never more.
	require.LessOrEqual(t, rc.count(), 3, "at most max_attempts requests, no burst of copies")
	for i := 1; i < rc.count(); i++ {
		// The next attempt is due the backoff (400 ms then 800 ms, ±50% jitter) after the previous
		// attempt ended, and that attempt reached the receiver before it ended: its 150 ms timeout
		// counts from the attempt's start, so the gap seen here is at least the smallest backoff.
		require.GreaterOrEqual(t, rc.at(i).Sub(rc.at(i-1)), 200*time.Millisecond)
	}
}

func TestTemplateErrorAtDeliveryIsDead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "webhook"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhook", "broken.tmpl"), []byte(`{{ .Event.Data.labels.team | toJson }}`), 0o644))
	rc, url := newReceiver(t, nil)
	b := setup(t, setupOpts{url: url, templateDir: dir, routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"hook"}, Template: "broken"}}})
	accept(t, b, "e1")
	d := waitDelivery(t, b, "e1", 5*time.Second)
	require.Equal(t, core.StateDead, d.State)
	require.Contains(t, d.LastError, "labels")
	require.Equal(t, "template", attempts(t, b, d)[0].Outcome)
	require.Zero(t, rc.count())
}

// slowTemplate takes minutes of steps within every budget but time: 3 000³ range iterations.
const slowTemplate = `{{ $l := until 3000 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}{{ end }}{}`

// TestSlowTemplateEndsWithDeliveryTimeout: delivery.timeout bounds the render as well as the
// send; the render that exceeded it is recorded as a template error and sends nothing.
func TestSlowTemplateEndsWithDeliveryTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "webhook"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhook", "slow.tmpl"), []byte(slowTemplate), 0o644))
	rc, url := newReceiver(t, nil)
	b := setup(t, setupOpts{url: url, templateDir: dir, timeout: 300 * time.Millisecond,
		routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"hook"}, Template: "slow"}}})
	accept(t, b, "e1")
	d := waitDelivery(t, b, "e1", 60*time.Second)
	require.Equal(t, core.StateDead, d.State)
	require.Contains(t, d.LastError, "deadline exceeded")
	require.Contains(t, d.LastError, "webhook/slow")
	a := attempts(t, b, d)[0]
	require.Equal(t, "template", a.Outcome)
	require.Less(t, a.Duration, templates.DefaultMaxRenderTime/2, "ended by delivery.timeout, not by the render time limit")
	require.Zero(t, rc.count())
}

// TestDrainStopsARender: after SIGTERM the drain cancels a running render as it cancels a send;
// the delivery is retried after the restart (pending), not dead. Before, the process needed
// SIGKILL.
func TestDrainStopsARender(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "webhook"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "webhook", "slow.tmpl"), []byte(slowTemplate), 0o644))
	_, url := newReceiver(t, nil)
	// The delivery shows as running once it is leased, before a worker takes it from the queue;
	// a stop then hands it back unattempted. The attempt reads the clock just before it renders,
	// so that call says the render has begun.
	attempting := make(chan struct{})
	var once sync.Once
	now := func() time.Time {
		if calledFrom("core.(*Dispatcher).attempt") {
			once.Do(func() { close(attempting) })
		}
		return time.Now()
	}
	b := setup(t, setupOpts{url: url, templateDir: dir, timeout: time.Minute, drain: 100 * time.Millisecond, nowFunc: now,
		routes: []*core.Route{{Name: "all", When: matchAll{}, Targets: []string{"hook"}, Template: "slow"}}})
	accept(t, b, "e1")
	select {
	case <-attempting:
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt started")
	}
	start := time.Now()
	b.stop()
	require.Less(t, time.Since(start), templates.DefaultMaxRenderTime/2, "the drain did not stop the render")
	ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, core.StatePending, ds[0].State, "retried after the restart")
	require.Contains(t, ds[0].LastError, "context canceled")
}

func TestFullQueueFallsBackToPoller(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { time.Sleep(20 * time.Millisecond) })
	b := setup(t, setupOpts{url: url, queueSize: 1})
	const n = 20
	for i := range n {
		accept(t, b, fmt.Sprint("e", i))
	}
	for i := range n {
		require.Equal(t, core.StateSucceeded, waitDelivery(t, b, fmt.Sprint("e", i), 10*time.Second).State)
	}
	require.Equal(t, n, rc.count(), "each delivery sent once, whether handed over or polled")
}

func TestShutdownHandsBackQueuedDeliveries(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { <-release })
	b := setup(t, setupOpts{url: url, timeout: 5 * time.Second})
	for i := range 3 {
		accept(t, b, fmt.Sprint("e", i))
	}
	<-rc.received // one attempt is running; the two others wait in the queue
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	b.stop()
	ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 3)
	states := map[core.State]int{}
	for _, d := range ds {
		states[d.State]++
	}
	require.Zero(t, states[core.StateRunning], "no delivery stays leased by a stopped process: %v", states)
	require.GreaterOrEqual(t, states[core.StateSucceeded], 1, "the running attempt finished")
}

// scriptNotifier answers from a script and records when each call came.
type scriptNotifier struct {
	mu     sync.Mutex
	calls  []time.Time
	answer func(n int) error
}

func (s *scriptNotifier) Notify(context.Context, *notify.Message) error {
	s.mu.Lock()
	s.calls = append(s.calls, time.Now())
	n := len(s.calls)
	s.mu.Unlock()
	if s.answer != nil {
		return s.answer(n)
	}
	return nil
}

func (s *scriptNotifier) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...)
}

// TestGlobalRateLimitPausesEveryTargetOfTheType: a global 429 (Discord) on one target holds back
// the other targets of that type, and not targets of other types.
func TestGlobalRateLimitPausesEveryTargetOfTheType(t *testing.T) {
	t.Parallel()
	limited := &scriptNotifier{answer: func(n int) error {
		if n == 1 {
			return &notify.DeliveryError{Reason: notify.ReasonRateLimited, Retryable: true, RetryAfter: time.Second, Global: true, StatusCode: 429}
		}
		return nil
	}}
	sameType, otherType := &scriptNotifier{}, &scriptNotifier{}
	targets := []*core.Target{
		{Name: "d1", Type: "discord", Notifier: limited, Concurrency: 1},
		{Name: "d2", Type: "discord", Notifier: sameType, Concurrency: 1},
		{Name: "w", Type: "webhook", Notifier: otherType, Concurrency: 1},
	}
	engine, err := templates.New("")
	require.NoError(t, err)
	bus := startEngine(t, "", core.DispatcherConfig{PollInterval: 20 * time.Millisecond}, &core.Plan{Targets: targets,
		Router: &core.Router{Routes: []*core.Route{
			{Name: "first", When: idIs("e1"), Targets: []string{"d1"}},
			{Name: "second", When: idIs("e2"), Targets: []string{"d2", "w"}},
		}},
		Renderer: &core.Renderer{Engine: engine}, Retry: core.RetryPolicy{MaxAttempts: 3, Initial: 10 * time.Millisecond, Max: 5 * time.Second}}, nil).bus
	ev := func(id string) *event.Event {
		e, err := event.Parse([]byte(`{"event":"x","id":"` + id + `","timestamp":"2026-01-01T00:00:00Z","data":{}}`))
		require.NoError(t, err)
		return e
	}
	_, err = bus.Accept(context.Background(), ev("e1"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(limited.times()) == 1 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	_, err = bus.Accept(context.Background(), ev("e2"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(sameType.times()) == 1 && len(limited.times()) == 2 }, 5*time.Second, 5*time.Millisecond)
	first := limited.times()[0]
	require.GreaterOrEqual(t, sameType.times()[0].Sub(first), time.Second, "the other Discord target waited out the global limit")
	require.Less(t, otherType.times()[0].Sub(first), 500*time.Millisecond, "a webhook target did not wait")
}

// TestCircuitBreakerHoldsDeliveriesWhileOpen: after 3 consecutive failures the circuit opens;
// deliveries then wait instead of burning attempts, one probe goes out after open_for, and when it
// succeeds the rest follow.
func TestCircuitBreakerHoldsDeliveriesWhileOpen(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	rc, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	b := setup(t, setupOpts{url: url, breaker: core.BreakerPolicy{Failures: 3, OpenFor: time.Second},
		retry: core.RetryPolicy{MaxAttempts: 10, Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}})
	for i := range 3 {
		accept(t, b, fmt.Sprint("e", i))
	}
	require.Eventually(t, func() bool { return rc.count() >= 3 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(400 * time.Millisecond)
	require.Equal(t, 3, rc.count(), "the circuit is open: no more requests until open_for has passed")
	require.Equal(t, map[string]bool{"hook": true}, b.disp.OpenCircuits())
	down.Store(false)
	for i := range 3 {
		require.Equal(t, core.StateSucceeded, waitDelivery(t, b, fmt.Sprint("e", i), 10*time.Second).State)
	}
	require.Empty(t, b.disp.OpenCircuits(), "the probe succeeded: the circuit is closed")
	require.GreaterOrEqual(t, rc.at(3).Sub(rc.at(2)), 900*time.Millisecond, "the probe came after open_for")
	require.Equal(t, 6, rc.count(), "three failures, then one success each")
}

// TestCircuitBreakerIgnoresClientErrors: 4xx answers concern one message, not the target's
// health, so they never open the circuit.
func TestCircuitBreakerIgnoresClientErrors(t *testing.T) {
	t.Parallel()
	rc, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	b := setup(t, setupOpts{url: url, breaker: core.BreakerPolicy{Failures: 2, OpenFor: time.Hour}})
	for i := range 5 {
		accept(t, b, fmt.Sprint("e", i))
	}
	for i := range 5 {
		require.Equal(t, core.StateDead, waitDelivery(t, b, fmt.Sprint("e", i), 5*time.Second).State)
	}
	require.Equal(t, 5, rc.count())
	require.Empty(t, b.disp.OpenCircuits())
}

// TestBackpressure: with more deliveries waiting than the limit, new events are refused with
// ErrQueueFull and nothing of them is stored; once the queue drains they are accepted again.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	_, url := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	b := setup(t, setupOpts{url: url, retry: core.RetryPolicy{MaxAttempts: 100, Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}})
	b.bus.SetMaxPending(2)
	for i := range 3 { // the third is accepted with 2 waiting: the limit is "more than 2"
		accept(t, b, fmt.Sprint("e", i))
	}
	ev, err := event.Parse([]byte(`{"event":"scan.failed","id":"over","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s"}}`))
	require.NoError(t, err)
	_, err = b.bus.Accept(context.Background(), ev)
	require.ErrorIs(t, err, core.ErrQueueFull)
	require.True(t, b.bus.QueueFull())
	ds, err := b.store.Deliveries(context.Background(), core.DeliveryFilter{Limit: 100})
	require.NoError(t, err)
	require.Len(t, ds, 3, "the refused event stored nothing")

	healthy.Store(true)
	for i := range 3 {
		require.Equal(t, core.StateSucceeded, waitDelivery(t, b, fmt.Sprint("e", i), 10*time.Second).State)
	}
	require.Eventually(t, func() bool {
		_, err := b.bus.Accept(context.Background(), ev)
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "accepted again once the queue has drained")
	b.bus.SetMaxPending(0)
}
