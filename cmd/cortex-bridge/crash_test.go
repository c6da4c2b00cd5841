package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/sender"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// The crash tests run the real binary as child processes (startChild), send a slice of
// samples/stream.jsonl at a steady rate like Cortex, SIGKILL a bridge at a random point and
// check against a loopback receiver and the audit file that every event that got a 200 reached
// both targets. Duplicates are possible only for deliveries in flight at the kill; they are
// counted and must carry the X-Cortex-Delivery id of the original.

const (
	crashEvents = 600                   // of samples/stream.jsonl
	crashRate   = 200                   // events per second
	crashDelay  = 15 * time.Millisecond // the receiver's answer time: with concurrency 1 the queue backs up, so leases are held at the kill
)

// crashPost is one POST the receiver got.
type crashPost struct {
	delivery string
	at       time.Time
}

// crashReceiver is a webhook receiver on loopback: it checks each signature like the Cortex
// docs' verifySignature and records, per event id, the X-Cortex-Delivery ids it got.
type crashReceiver struct {
	delay  time.Duration
	mu     sync.Mutex
	posts  map[string][]crashPost
	badSig atomic.Int64
	total  atomic.Int64 // POSTs of Cortex events
	alerts atomic.Int64 // POSTs of the bridge's own alert events ("bridge.…"), not recorded
}

func newCrashReceiver(delay time.Duration) *crashReceiver {
	return &crashReceiver{delay: delay, posts: map[string][]crashPost{}}
}

func (rc *crashReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if !verifySignature(body, r.Header.Get("X-Cortex-Signature"), targetSecret) {
		rc.badSig.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev struct{ ID string }
	_ = json.Unmarshal(body, &ev)
	if strings.HasPrefix(ev.ID, "bridge.") {
		rc.alerts.Add(1)
		return
	}
	if rc.delay > 0 {
		time.Sleep(rc.delay)
	}
	rc.mu.Lock()
	rc.posts[ev.ID] = append(rc.posts[ev.ID], crashPost{r.Header.Get("X-Cortex-Delivery"), time.Now()})
	rc.mu.Unlock()
	rc.total.Add(1)
	w.WriteHeader(http.StatusOK)
}

// deliveries returns event id → the X-Cortex-Delivery ids received, in order.
func (rc *crashReceiver) deliveries() map[string][]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string][]string, len(rc.posts))
	for id, ps := range rc.posts {
		for _, p := range ps {
			out[id] = append(out[id], p.delivery)
		}
	}
	return out
}

// firstAt returns when the receiver first got event id.
func (rc *crashReceiver) firstAt(id string) (time.Time, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ps := rc.posts[id]
	if len(ps) == 0 {
		return time.Time{}, false
	}
	return ps[0].at, true
}

// crashAudit reads audit files: event id → the delivery ids of its lines. A torn last line
// (none is expected: the file target writes a line in one write) is counted, not parsed.
func crashAudit(t *testing.T, paths ...string) (lines map[string][]string, torn int) {
	t.Helper()
	lines = map[string][]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct {
				Event      struct{ ID string } `json:"event"`
				DeliveryID string              `json:"delivery_id"`
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || l.DeliveryID == "" {
				torn++
				continue
			}
			if strings.HasPrefix(l.Event.ID, "bridge.") {
				continue // the bridge's own alert events
			}
			lines[l.Event.ID] = append(lines[l.Event.ID], l.DeliveryID)
		}
	}
	return lines, torn
}

// crashStream returns the first n events of samples/stream.jsonl.
func crashStream(t *testing.T, n int) [][]byte {
	t.Helper()
	b, err := os.ReadFile("../../samples/stream.jsonl")
	require.NoError(t, err)
	var out [][]byte
	for line := range bytes.Lines(b) {
		if line = bytes.TrimSpace(line); len(line) > 0 && len(out) < n {
			out = append(out, slices.Clone(line))
		}
	}
	require.Len(t, out, n)
	return out
}

// crashFreeAddr returns a loopback address that was free a moment ago, so a restarted bridge can
// listen where the first one did (a sender keeps one URL, like Cortex).
func crashFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// crashConfig writes a config with a webhook target (receiverURL, signed, concurrency 1) and a
// file target (auditPath), both getting every event Cortex sent (not the finding.* events the
// bridge derives from its scans: the check counts the sent ones). storage is the YAML of the
// storage key.
func crashConfig(t *testing.T, path, listen, storage, receiverURL, auditPath string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server: {listen: %q}
storage: %s
ingest: {secrets: [%q], rate_limit: {per_second: 2000, burst: 2000}}
delivery: {timeout: 2s, drain_timeout: 2s, max_attempts: 10, backoff: {initial: 100ms, max: 1s}}
targets:
  - {name: receiver, type: webhook, url: %q, secret: %q, concurrency: 1}
  - {name: audit, type: file, path: %q}
routes:
  - {name: everything, when: 'not (event startsWith "finding.")', targets: [receiver, audit]}
`, listen, storage, ingestSecret, receiverURL, targetSecret, auditPath)
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// crashKill SIGKILLs c and waits for it to be gone.
func crashKill(t *testing.T, c *child) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	select {
	case err := <-c.done:
		c.done <- err // for startChild's Cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("killed bridge did not exit")
	}
}

// crashAck is the sender's final answer to one event.
type crashAck struct {
	status  string        // accepted | duplicate | "" (no 200)
	latency time.Duration // from the first try to the 200
	resent  bool          // the first request got no final answer: sent again
	err     string
}

// crashSend sends events at rate per second, each in its own goroutine (an open loop: a slow
// answer does not slow the stream), restamped when first sent. urlFor picks the bridge for
// event i's try-th round; a round is sender.Client.Send (it retries 429, 503 and network errors
// for maxElapsed); an event without a final answer is sent again, for up to 60 s, like Cortex
// would. onSent is called after event i was started, from the sending goroutine.
func crashSend(events [][]byte, rate int, maxElapsed time.Duration, urlFor func(i, try int) string, onSent func(i int)) []crashAck {
	acks := make([]crashAck, len(events))
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i, raw := range events {
		if i > 0 {
			<-tick.C
		}
		wg.Go(func() {
			body, err := sender.Restamp(raw, time.Now())
			if err != nil {
				acks[i].err = err.Error()
				return
			}
			start := time.Now()
			for try := 0; time.Since(start) < 60*time.Second; try++ {
				c := &sender.Client{URL: urlFor(i, try) + "/webhooks/cortex", Secret: ingestSecret, MaxElapsed: maxElapsed}
				res, err := c.Send(context.Background(), body)
				if err != nil || res.Tries > 1 {
					acks[i].resent = true
				}
				if err != nil {
					continue // no final answer: send again (another replica, or the restarted one)
				}
				if res.StatusCode != http.StatusOK {
					acks[i].err = fmt.Sprintf("HTTP %d %s: %s", res.StatusCode, res.Code, res.Message)
					return
				}
				acks[i].status, acks[i].latency = res.Status, time.Since(start)
				return
			}
			acks[i].err = "no 200 within 60s"
		})
		if onSent != nil {
			onSent(i)
		}
	}
	wg.Wait()
	return acks
}

// crashPercentile returns the p-th percentile (0–100) of ds.
func crashPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// crashVerdict checks the invariant over every event that got a 200 and returns a summary:
// each reached the receiver and the audit file, and every repeat carries the original's delivery
// id.
type crashVerdict struct {
	acked, resent, resentDuplicate          int
	receiverDuplicates, auditDuplicates     int
	p50, p99, max                           time.Duration // every event
	steadyP50, steadyP99                    time.Duration // the events answered at the first try
	lostReceiver, lostAudit, foreign, torn  int
	receiverMixedIDs, auditMixedIDs, badSig int
}

func (v crashVerdict) String() string {
	return fmt.Sprintf("acked=%d lost: receiver=%d audit=%d | duplicates: receiver=%d audit=%d (mixed delivery ids: %d/%d) | "+
		"resent after no answer=%d (of which already stored → duplicate=%d) | ack latency p50=%s p99=%s max=%s (answered at once: p50=%s p99=%s)",
		v.acked, v.lostReceiver, v.lostAudit, v.receiverDuplicates, v.auditDuplicates, v.receiverMixedIDs, v.auditMixedIDs,
		v.resent, v.resentDuplicate, v.p50.Round(time.Millisecond), v.p99.Round(time.Millisecond), v.max.Round(time.Millisecond),
		v.steadyP50.Round(time.Millisecond), v.steadyP99.Round(time.Millisecond))
}

func crashCheck(t *testing.T, events [][]byte, acks []crashAck, rc *crashReceiver, audits ...string) crashVerdict {
	t.Helper()
	var v crashVerdict
	sent := map[string]bool{}
	var lat, steady []time.Duration
	for i, a := range acks {
		var head struct{ ID string }
		require.NoError(t, json.Unmarshal(events[i], &head))
		sent[head.ID] = true
		require.Empty(t, a.err, "event %s", head.ID)
		require.Contains(t, []string{"accepted", "duplicate"}, a.status, "event %s", head.ID)
		v.acked++
		lat = append(lat, a.latency)
		if !a.resent {
			steady = append(steady, a.latency)
		}
		if a.resent {
			v.resent++
			if a.status == "duplicate" {
				v.resentDuplicate++
			}
		}
	}
	v.p50, v.p99, v.max = crashPercentile(lat, 50), crashPercentile(lat, 99), crashPercentile(lat, 100)
	v.steadyP50, v.steadyP99 = crashPercentile(steady, 50), crashPercentile(steady, 99)
	got := rc.deliveries()
	lines, torn := crashAudit(t, audits...)
	v.torn, v.badSig = torn, int(rc.badSig.Load())
	for id := range sent {
		ds := got[id]
		if len(ds) == 0 {
			v.lostReceiver++
		} else {
			v.receiverDuplicates += len(ds) - 1
			if slices.ContainsFunc(ds, func(d string) bool { return d != ds[0] }) {
				v.receiverMixedIDs++
			}
		}
		ls := lines[id]
		if len(ls) == 0 {
			v.lostAudit++
		} else {
			v.auditDuplicates += len(ls) - 1
			if slices.ContainsFunc(ls, func(d string) bool { return d != ls[0] }) {
				v.auditMixedIDs++
			}
		}
	}
	for id := range got {
		if !sent[id] {
			v.foreign++
		}
	}
	for id := range lines {
		if !sent[id] {
			v.foreign++
		}
	}
	return v
}

// crashWaitDelivered waits until every event of events is at the receiver and in the audit files.
func crashWaitDelivered(t *testing.T, events [][]byte, rc *crashReceiver, within time.Duration, audits ...string) {
	t.Helper()
	ids := make([]string, len(events))
	for i, e := range events {
		var head struct{ ID string }
		require.NoError(t, json.Unmarshal(e, &head))
		ids[i] = head.ID
	}
	missing := func() (int, int) {
		got := rc.deliveries()
		lines, _ := crashAudit(t, audits...)
		r, a := 0, 0
		for _, id := range ids {
			if len(got[id]) == 0 {
				r++
			}
			if len(lines[id]) == 0 {
				a++
			}
		}
		return r, a
	}
	deadline := time.Now().Add(within)
	for {
		r, a := missing()
		if r == 0 && a == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d acknowledged events never reached the receiver and %d never reached the audit file", within, r, a)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// crashQueueEmpty checks that the store holds nothing unfinished and nothing dead.
func crashQueueEmpty(t *testing.T, driver, dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, driver, dsn)
	require.NoError(t, err)
	defer db.Close()
	require.Eventually(t, func() bool {
		stats, err := db.QueueStats(ctx)
		if err != nil {
			t.Logf("queue stats: %v", err)
			return false
		}
		for _, s := range stats {
			if s.Pending+s.Running+s.Dead > 0 {
				t.Logf("queue of %s: pending=%d running=%d dead=%d", s.Target, s.Pending, s.Running, s.Dead)
				return false
			}
		}
		return true
	}, 20*time.Second, 250*time.Millisecond, "every delivery finished, none dead")
}

// TestCrashKill9SQLite: a bridge on SQLite gets 600 events at 200/s and is SIGKILLed at a random
// point; a new process starts on the same file and address, the sender resends what got no
// answer, and every event that got a 200 reaches the receiver and the audit file. The killed
// process's leased deliveries (queued behind a slow receiver) are taken over once their leases
// (delivery.timeout 2s + 15s) expire.
func TestCrashKill9SQLite(t *testing.T) {
	t.Parallel()
	rc := newCrashReceiver(crashDelay)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	addr := crashFreeAddr(t)
	cfg := crashConfig(t, filepath.Join(dir, "config.yaml"), addr, `{driver: sqlite, dsn: bridge.db}`, srv.URL, audit)
	events := crashStream(t, crashEvents)

	c := startChild(t, cfg)
	killAt := crashEvents/5 + mrand.IntN(crashEvents*3/5) // between 20% and 80% of the stream
	kill := make(chan struct{})
	var acks []crashAck
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		acks = crashSend(events, crashRate, 5*time.Second, func(int, int) string { return c.url }, func(i int) {
			if i == killAt {
				close(kill)
			}
		})
	}()
	<-kill
	crashKill(t, c)
	killed := time.Now()
	t.Logf("SIGKILL after event %d of %d; receiver had %d posts", killAt, crashEvents, rc.total.Load())
	c2 := startChild(t, cfg)
	require.Equal(t, c.url, c2.url)
	t.Logf("restarted in %s", time.Since(killed).Round(time.Millisecond))
	select {
	case <-sent:
	case <-time.After(90 * time.Second):
		t.Fatal("the sender did not finish")
	}

	crashWaitDelivered(t, events, rc, 60*time.Second, audit)
	t.Logf("every acknowledged event delivered %s after the kill", time.Since(killed).Round(time.Millisecond))
	v := crashCheck(t, events, acks, rc, audit)
	t.Logf("SQLite kill -9: %s", v)
	require.Zero(t, v.lostReceiver+v.lostAudit, "lost events")
	require.Zero(t, v.receiverMixedIDs+v.auditMixedIDs, "a repeated delivery carries the original X-Cortex-Delivery id")
	require.Zero(t, v.foreign+v.torn+v.badSig)
	crashQueueEmpty(t, "sqlite", filepath.Join(dir, "bridge.db"))
	c2.stop(t, 20*time.Second)
}

// TestCrashKill9PostgresReplicas: two bridges share one Postgres schema; the sender alternates
// between them (failing over to the other when one does not answer, like a load balancer). One
// is SIGKILLed at a random point and not restarted: the survivor takes the rest of the stream
// and, once their leases expire, the deliveries the dead one held. Every event that got a 200
// reaches the receiver and an audit file (each replica writes its own).
func TestCrashKill9PostgresReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, "")
	rc := newCrashReceiver(crashDelay)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	storage := fmt.Sprintf(`{driver: postgres, dsn: %q}`, dsn)
	auditA, auditB := filepath.Join(dir, "audit-a.jsonl"), filepath.Join(dir, "audit-b.jsonl")
	a := startChild(t, crashConfig(t, filepath.Join(dir, "a.yaml"), "127.0.0.1:0", storage, srv.URL, auditA))
	b := startChild(t, crashConfig(t, filepath.Join(dir, "b.yaml"), "127.0.0.1:0", storage, srv.URL, auditB))
	events := crashStream(t, crashEvents)

	urls := [2]string{a.url, b.url}
	killAt := crashEvents/5 + mrand.IntN(crashEvents*3/5)
	kill := make(chan struct{})
	var acks []crashAck
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		acks = crashSend(events, crashRate, time.Second, func(i, try int) string {
			return urls[(i+try)%2]
		}, func(i int) {
			if i == killAt {
				close(kill)
			}
		})
	}()
	<-kill
	crashKill(t, a)
	killed := time.Now()
	t.Logf("SIGKILL of replica A after event %d of %d", killAt, crashEvents)
	select {
	case <-sent:
	case <-time.After(90 * time.Second):
		t.Fatal("the sender did not finish")
	}

	crashWaitDelivered(t, events, rc, 60*time.Second, auditA, auditB)
	t.Logf("every acknowledged event delivered %s after the kill", time.Since(killed).Round(time.Millisecond))
	v := crashCheck(t, events, acks, rc, auditA, auditB)
	t.Logf("Postgres, 2 replicas, one killed: %s", v)
	require.Zero(t, v.lostReceiver+v.lostAudit, "lost events")
	require.Zero(t, v.receiverMixedIDs+v.auditMixedIDs, "a repeated delivery carries the original X-Cortex-Delivery id")
	require.Zero(t, v.foreign+v.torn+v.badSig)

	// Load sharing: both replicas accepted and delivered; the survivor delivered what the dead
	// one had accepted but not finished.
	acceptedBy := func(c *child) map[string]bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		out := map[string]bool{}
		for _, l := range c.logs {
			if l["msg"] == "event accepted" {
				out[l["event_id"].(string)] = true
			}
		}
		return out
	}
	deliveredBy := func(c *child) (n int, of map[string]int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		of = map[string]int{}
		for _, l := range c.logs {
			if l["msg"] == "delivered" {
				n++
				of[l["event_id"].(string)]++
			}
		}
		return n, of
	}
	accA, accB := acceptedBy(a), acceptedBy(b)
	nA, _ := deliveredBy(a)
	nB, ofB := deliveredBy(b)
	takenOver := 0
	for id, k := range ofB {
		if accA[id] {
			takenOver += k
		}
	}
	t.Logf("replica A accepted %d events and made %d deliveries before the kill; replica B accepted %d and made %d, "+
		"%d of them for events A had accepted (its queue, taken over after lease expiry)", len(accA), nA, len(accB), nB, takenOver)
	require.NotZero(t, len(accA))
	require.NotZero(t, nA)
	require.NotZero(t, len(accB))
	crashQueueEmpty(t, "postgres", dsn)
	b.stop(t, 20*time.Second)
}
