package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/signature"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// The fault tests run the real binary (startChild) against receivers that fail in the ways
// listed in issue 7, and against storage that stops answering, and check the delivery log
// (attempt by attempt, read from the store) and what the sender sees.

// faultEvent is a minimal valid event with id, timestamped now.
func faultEvent(typ, id string) []byte {
	return fmt.Appendf(nil, `{"event":%q,"id":%q,"timestamp":%q,"data":{"scan_id":"s1","repo_url":"https://github.com/acme/app","score":80}}`,
		typ, id, time.Now().UTC().Format(time.RFC3339Nano))
}

// faultAnswer is the bridge's answer to one POST.
type faultAnswer struct {
	status     int
	code       string // error code, or the status ("accepted", "duplicate") on 200
	retryAfter string
	took       time.Duration
	err        error // no answer
}

// faultPost POSTs body signed, once (no retries: the test wants to see each answer).
func faultPost(base string, body []byte) faultAnswer {
	sig, _ := signature.Sign(ingestSecret, body)
	var head struct{ Event string }
	_ = json.Unmarshal(body, &head)
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/cortex", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Cortex-Signature", sig)
	req.Header.Set("X-Cortex-Event", head.Event)
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return faultAnswer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	var a struct {
		Status string
		Error  struct{ Code string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&a)
	code := a.Error.Code
	if code == "" {
		code = a.Status
	}
	return faultAnswer{status: resp.StatusCode, code: code, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start)}
}

// faultReady returns /readyz's status and body (0 when it did not answer within 5 s).
func faultReady(base string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// faultDeliveries reads target's deliveries and their attempts from the store.
func faultDeliveries(t *testing.T, db *store.DB, target string) ([]*core.Delivery, map[string][]core.Attempt) {
	t.Helper()
	ctx := context.Background()
	ds, err := db.Deliveries(ctx, core.DeliveryFilter{Target: target, Limit: 500})
	require.NoError(t, err)
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	atts, err := db.AttemptsOf(ctx, ids)
	require.NoError(t, err)
	return ds, atts
}

// faultReceiver answers by path (one path per target) and counts requests per delivery id.
type faultReceiver struct {
	healed atomic.Bool // dead500 answers 200 from now on
	mu     sync.Mutex
	n      map[string]int      // path|delivery id → requests
	ids    map[string][]string // path → X-Cortex-Delivery of each request
	bad    atomic.Int64        // requests with a wrong signature
}

func (f *faultReceiver) count(path string) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.n {
		if p, id, _ := strings.Cut(k, "|"); p == path {
			out[id] = v
		}
	}
	return out
}

func (f *faultReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !verifySignature(body, r.Header.Get("X-Cortex-Signature"), targetSecret) {
		f.bad.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("X-Cortex-Delivery")
	f.mu.Lock()
	f.n[r.URL.Path+"|"+id]++
	n := f.n[r.URL.Path+"|"+id]
	f.ids[r.URL.Path] = append(f.ids[r.URL.Path], id)
	f.mu.Unlock()
	switch r.URL.Path {
	case "/flaky5xx": // 503, 500, then fine
		if n <= 2 {
			http.Error(w, "overloaded", map[int]int{1: http.StatusServiceUnavailable, 2: http.StatusInternalServerError}[n])
			return
		}
	case "/reset": // the connection is reset in the middle of the response headers, twice
		if n <= 2 {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Ty")
			_ = buf.Flush()
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
			return
		}
	case "/slow": // answers after delivery.timeout, twice
		if n <= 2 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
	case "/storm429": // every delivery is rate limited twice, with Retry-After: 1
		if n <= 2 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
	case "/dead500":
		if !f.healed.Load() {
			http.Error(w, "down for good", http.StatusInternalServerError)
			return
		}
	case "/reject400":
		http.Error(w, "malformed", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TestFaultReceivers: one bridge, one webhook target per receiver fault, with exact attempt
// counts from the delivery log (max_attempts 4, backoff 200ms ×2 ±50% capped at 1s, timeout 1s):
//
//	flaky5xx   503, 500, then 204              → succeeded after 3 attempts
//	reset      connection reset mid-response ×2 → succeeded after 3 attempts (network)
//	slow       no answer within the timeout ×2  → succeeded after 3 (timeout, "possibly delivered", retried after a backoff)
//	storm429   7 deliveries, each 429 ×2 with Retry-After: 1 → each succeeded after 3, retried ≥ 1 s later
//	refused    nothing listens                  → dead after 4 (network); listed; replayed once it listens → succeeded (5th attempt)
//	dead500    500 forever                      → dead after 4; listed; replayed once healed → succeeded (5th attempt)
//	reject400  400                              → dead after 1 (permanent)
//
// Each target gets at most 4 consecutive failures, under the circuit breaker's default of 5, so
// the counts are the retry policy's alone. The whole test takes about 10 s.
func TestFaultReceivers(t *testing.T) {
	t.Parallel()
	rc := &faultReceiver{n: map[string]int{}, ids: map[string][]string{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	refusedAddr := crashFreeAddr(t)
	dir := t.TempDir()
	targets := []string{"flaky5xx", "reset", "slow", "storm429", "refused", "dead500", "reject400"}
	var tl strings.Builder
	for _, name := range targets {
		u := srv.URL + "/" + name
		if name == "refused" {
			u = "http://" + refusedAddr + "/refused"
		}
		fmt.Fprintf(&tl, "  - {name: %s, type: webhook, url: %q, secret: %q}\n", name, u, targetSecret)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 1s, drain_timeout: 2s, max_attempts: 4, backoff: {initial: 200ms, max: 1s}}
targets:
%sroutes:
  - {name: storm, when: 'id startsWith "storm-"', targets: [storm429]}
  - {name: all, when: 'id startsWith "one-"', targets: [%s]}
`, ingestSecret, tl.String(), strings.Join(targets, ", ")), 0o600))
	c := startChild(t, cfgPath)

	require.Equal(t, "accepted", faultPost(c.url, faultEvent("scan.completed", "one-1")).code)
	for i := range 6 {
		require.Equal(t, "accepted", faultPost(c.url, faultEvent("scan.started", fmt.Sprint("storm-", i))).code)
	}

	db, err := store.Open(context.Background(), "sqlite", filepath.Join(dir, "bridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	final := map[string]core.State{"flaky5xx": core.StateSucceeded, "reset": core.StateSucceeded, "slow": core.StateSucceeded,
		"storm429": core.StateSucceeded, "refused": core.StateDead, "dead500": core.StateDead, "reject400": core.StateDead}
	settled := func() bool {
		for name, want := range final {
			ds, _ := faultDeliveries(t, db, name)
			if len(ds) == 0 {
				return false
			}
			for _, d := range ds {
				if d.State != want {
					return false
				}
			}
		}
		return true
	}
	require.Eventually(t, settled, 30*time.Second, 100*time.Millisecond, "every delivery reaches its final state")

	outcomes := func(as []core.Attempt) (out []string) {
		for _, a := range as {
			out = append(out, fmt.Sprintf("%s/%d", a.Outcome, a.StatusCode))
		}
		return out
	}
	// gap is the time between the end of attempt i and the start of attempt i+1.
	gap := func(as []core.Attempt, i int) time.Duration {
		return as[i+1].StartedAt.Sub(as[i].StartedAt.Add(as[i].Duration))
	}
	one := func(name string) (*core.Delivery, []core.Attempt) {
		ds, atts := faultDeliveries(t, db, name)
		require.Len(t, ds, 1, name)
		return ds[0], atts[ds[0].ID]
	}
	cases := []struct {
		target   string
		attempts []string // outcome/status of each attempt, in order
		received int      // requests the receiver got for the delivery
	}{
		{"flaky5xx", []string{"server_error/503", "server_error/500", "success/0"}, 3},
		{"reset", []string{"network/0", "network/0", "success/0"}, 3},
		{"slow", []string{"timeout/0", "timeout/0", "success/0"}, 3},
		{"refused", []string{"network/0", "network/0", "network/0", "network/0"}, 0},
		{"dead500", []string{"server_error/500", "server_error/500", "server_error/500", "server_error/500"}, 4},
		{"reject400", []string{"client_error/400"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			d, as := one(tc.target)
			require.Equal(t, tc.attempts, outcomes(as))
			require.Equal(t, len(tc.attempts), d.Attempts)
			for i, a := range as {
				require.Equal(t, i+1, a.Number)
			}
			got := rc.count("/" + tc.target)
			require.Equal(t, tc.received, got[d.ID], "requests the receiver got, all with X-Cortex-Delivery %s", d.ID)
			require.LessOrEqual(t, len(got), 1, "one delivery id per delivery")
			for i := 0; i+1 < len(as); i++ {
				require.GreaterOrEqual(t, gap(as, i), 90*time.Millisecond, "attempt %d is retried after a backoff (200ms ±50%%), never at once", i+2)
			}
			switch tc.target {
			case "slow":
				for _, a := range as[:2] {
					require.Contains(t, a.Error, "possibly delivered")
					require.InDelta(t, time.Second.Seconds(), a.Duration.Seconds(), 0.5, "cut off at delivery.timeout")
				}
			case "refused":
				require.Contains(t, d.LastError, "connection refused")
			case "reset":
				for _, a := range as[:2] {
					require.NotEmpty(t, a.Error)
				}
			}
		})
	}
	t.Run("storm429", func(t *testing.T) {
		ds, atts := faultDeliveries(t, db, "storm429")
		require.Len(t, ds, 7)
		got := rc.count("/storm429")
		for _, d := range ds {
			as := atts[d.ID]
			require.Equal(t, []string{"rate_limited/429", "rate_limited/429", "success/0"}, outcomes(as), d.ID)
			require.Equal(t, 3, got[d.ID])
			for i := range 2 {
				require.GreaterOrEqual(t, gap(as, i), 950*time.Millisecond, "Retry-After: 1 is honoured (backoff.max is 1s)")
			}
		}
		require.Len(t, got, 7)
	})
	require.Zero(t, rc.bad.Load(), "every request is signed")

	// Dead deliveries are listed and replayable with the same delivery id: the operator fixes the
	// receiver, lists the dead letters and queues them again.
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs([]string{"deliveries", "list", "--config", cfgPath, "--status", "dead"})
	require.NoError(t, execute(context.Background(), root, &errOut), errOut.String())
	deadIDs := map[string]string{}
	for _, name := range []string{"refused", "dead500", "reject400"} {
		d, _ := one(name)
		require.Contains(t, out.String(), d.ID, "deliveries list --status dead lists %s", name)
		deadIDs[name] = d.ID
	}
	rc.healed.Store(true)
	ln, err := net.Listen("tcp", refusedAddr)
	require.NoError(t, err, "the refused target's port was taken meanwhile")
	late := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = late.Serve(ln) }()
	t.Cleanup(func() { _ = late.Close() })
	out.Reset()
	root = newRoot(&out, &errOut)
	root.SetArgs([]string{"deliveries", "retry", "--config", cfgPath, deadIDs["refused"], deadIDs["dead500"]})
	require.NoError(t, execute(context.Background(), root, &errOut), errOut.String())
	require.Contains(t, out.String(), "2 queued, 0 not")
	require.Eventually(t, func() bool {
		a, _ := one("refused")
		b, _ := one("dead500")
		return a.State == core.StateSucceeded && b.State == core.StateSucceeded
	}, 20*time.Second, 100*time.Millisecond, "replayed deliveries succeed")
	for _, name := range []string{"refused", "dead500"} {
		d, as := one(name)
		require.Equal(t, 5, d.Attempts, name)
		require.Len(t, as, 5, name)
		require.Equal(t, "success", as[4].Outcome, name)
		require.Equal(t, d.ID, deadIDs[name])
		rc.mu.Lock()
		last := rc.ids["/"+name]
		rc.mu.Unlock()
		require.NotEmpty(t, last, name)
		require.Equal(t, d.ID, last[len(last)-1], "the replay carries the original X-Cortex-Delivery")
	}
	c.stop(t, 20*time.Second)
}

// faultStorage drives two storage outages. The first, while the bridge is idle, is seen by
// /readyz alone (an orchestrator's probe). The second, of at least 3 s, comes with traffic: every
// event gets 503 with Retry-After (never 200) and /readyz fails; once storage is back the bridge
// recovers by itself (no restart), the refused events are accepted when resent (so the 503
// stored nothing), a delivery whose attempt ended during the outage has its result written
// afterwards (it is not sent twice), and everything is delivered once.
//
// journaled is SQLite's ingest journal (store/journal.go): an event answered during the outage
// before the database failed a write is in the journal, on disk, and answered 200. Events are
// then sent until one gets 503 (the journal stops answering once its writes to the database
// fail); every event answered 200 is stored and delivered once after the outage, and is a
// duplicate when resent.
func faultStorage(t *testing.T, c *child, rc *crashReceiver, journaled bool, breakStorage, restore func()) {
	t.Helper()
	ready := func() bool { s, _ := faultReady(c.url); return s == http.StatusOK }
	require.Equal(t, "accepted", faultPost(c.url, faultEvent("scan.started", "before-outage")).code)
	require.Eventually(t, func() bool { return rc.total.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, ready, 5*time.Second, 50*time.Millisecond)

	// 1. Idle: nothing is sent, nothing is queued.
	breakStorage()
	time.Sleep(time.Second)
	idleStatus, idleBody := faultReady(c.url)
	t.Logf("/readyz while storage is down and the bridge idle: %d %s", idleStatus, idleBody)
	restore()
	require.Eventually(t, ready, 20*time.Second, 100*time.Millisecond, "/readyz recovers without a restart")

	// 2. With traffic, and a delivery whose attempt is running (the receiver takes rc.delay)
	// when storage goes away.
	require.Equal(t, "accepted", faultPost(c.url, faultEvent("scan.started", "in-flight")).code)
	time.Sleep(100 * time.Millisecond)
	breakStorage()
	broken := time.Now()
	bodies := make([][]byte, 3)
	answers := make([]faultAnswer, 3)
	var wg sync.WaitGroup
	for i := range bodies {
		bodies[i] = faultEvent("scan.completed", fmt.Sprint("during-outage-", i))
		wg.Go(func() { answers[i] = faultPost(c.url, bodies[i]) })
	}
	var busyStatus []int
	for deadline := time.Now().Add(12 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		status, body := faultReady(c.url)
		busyStatus = append(busyStatus, status)
		if status == http.StatusServiceUnavailable {
			t.Logf("/readyz while storage is down, with traffic: %d %s", status, body)
			break
		}
	}
	wg.Wait()
	accepted := map[int]bool{} // answered 200 (journaled)
	refused := false
	check := func(i int, a faultAnswer) {
		t.Helper()
		require.NoError(t, a.err, "event %d got no answer", i)
		t.Logf("event %d during the outage: HTTP %d %s, Retry-After %q, after %s", i, a.status, a.code, a.retryAfter, a.took.Round(time.Millisecond))
		if journaled && a.status == http.StatusOK {
			require.Equal(t, "accepted", a.code)
			accepted[i] = true
			return
		}
		require.Equal(t, http.StatusServiceUnavailable, a.status, "never 200 while storage is down")
		require.Equal(t, "unavailable", a.code)
		require.NotEmpty(t, a.retryAfter)
		refused = true
	}
	for i, a := range answers {
		check(i, a)
	}
	for deadline := time.Now().Add(20 * time.Second); journaled && !refused && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		bodies = append(bodies, faultEvent("scan.completed", fmt.Sprint("during-outage-", len(bodies))))
		check(len(bodies)-1, faultPost(c.url, bodies[len(bodies)-1]))
	}
	require.True(t, refused, "events are refused while storage is down")
	time.Sleep(time.Until(broken.Add(3 * time.Second)))

	restore()
	restored := time.Now()
	require.Eventually(t, ready, 20*time.Second, 100*time.Millisecond, "/readyz recovers without a restart")
	t.Logf("outage %s; ready again %s after storage returned", restored.Sub(broken).Round(time.Millisecond), time.Since(restored).Round(time.Millisecond))
	for i, b := range bodies {
		var a faultAnswer
		require.Eventually(t, func() bool { a = faultPost(c.url, b); return a.status == http.StatusOK }, 20*time.Second, 200*time.Millisecond)
		if accepted[i] {
			require.Equal(t, "duplicate", a.code, "event %d: answered 200 during the outage, it was stored", i)
			continue
		}
		require.Equal(t, "accepted", a.code, "event %d: the 503 stored nothing", i)
	}
	require.Eventually(t, func() bool { return rc.total.Load() >= int64(2+len(bodies)) }, 20*time.Second, 50*time.Millisecond, "the resent events are delivered")
	time.Sleep(500 * time.Millisecond) // a repeat would come now
	for id, ds := range rc.deliveries() {
		require.Len(t, ds, 1, "%s is delivered once: the result of an attempt that ended during the outage is written afterwards", id)
	}
	require.Len(t, rc.deliveries(), 2+len(bodies))

	assert.Contains(t, busyStatus, http.StatusServiceUnavailable, "/readyz must fail while storage is down (with traffic)")
	assert.Equal(t, http.StatusServiceUnavailable, idleStatus, "/readyz must fail while storage is down, also when the bridge is idle: %s", idleBody)
}

func faultStorageConfig(t *testing.T, dir, storage, receiverURL string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	// timeout 15s makes the lease 30 s: longer than the outage, which lasts as long as the slowest
	// 503 (SQLite: one or more busy_timeout waits, 10–20 s seen). A result that waits longer than
	// the lease is dropped and the delivery sent again (docs/operations.md), which is not what
	// this test is about.
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `
server: {listen: "127.0.0.1:0"}
storage: %s
ingest: {secrets: [%q]}
delivery: {timeout: 15s, drain_timeout: 2s, backoff: {initial: 100ms, max: 1s}}
targets:
  - {name: receiver, type: webhook, url: %q, secret: %q}
routes:
  - {name: everything, when: "true", targets: [receiver]}
`, storage, ingestSecret, receiverURL, targetSecret), 0o600))
	return path
}

// TestFaultStorageSQLite: the SQLite file stops taking writes while the bridge runs.
//
// chmod cannot do that here: the bridge keeps its database, WAL and shm files open, and writes
// through open descriptors ignore later permission changes (and the tests run as root, which
// ignores file modes anyway). What makes SQLite refuse writes is another process holding the
// write lock — what an operator's `sqlite3` shell in a transaction, a backup tool or a stuck
// process does: the test opens the file itself and runs BEGIN EXCLUSIVE, so every write of the
// bridge waits busy_timeout (5 s) and then fails with SQLITE_BUSY.
func TestFaultStorageSQLite(t *testing.T) {
	t.Parallel()
	rc := newCrashReceiver(500 * time.Millisecond)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	c := startChild(t, faultStorageConfig(t, dir, "{dsn: bridge.db}", srv.URL))

	lock, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "bridge.db")+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = lock.Close() })
	var conn *sql.Conn
	faultStorage(t, c, rc, true, func() {
		var err error
		conn, err = lock.Conn(context.Background())
		require.NoError(t, err)
		_, err = conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
		require.NoError(t, err)
	}, func() {
		_, err := conn.ExecContext(context.Background(), "ROLLBACK")
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	})
	c.stop(t, 20*time.Second)
}

// TestFaultStoragePostgres: the PostgreSQL server goes away while the bridge runs.
//
// The server is shared with other tests, so it is not stopped: the bridge logs in as a role of
// its own (owner of the test's schema), and the outage is that role being refused: ALTER ROLE …
// NOLOGIN and pg_terminate_backend of its sessions. To the bridge this is what a stopped server
// looks like — every open connection is closed by the server with "terminating connection due to
// administrator command" (SQLSTATE 57P01, as at a shutdown) and every new connection fails —
// while the other tests' sessions are untouched. ALTER ROLE … LOGIN is the server coming back.
func TestFaultStoragePostgres(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.Admin(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "cb_fault_" + hex.EncodeToString(b)
	ctx := context.Background()
	_, err := pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		if _, err := pool.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Logf("dropping test role %s: %v", role, err)
		}
	})
	dsn := pgtest.Schema(t, role) // cleaned up before the role: Cleanup runs last-in first-out

	rc := newCrashReceiver(500 * time.Millisecond)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	c := startChild(t, faultStorageConfig(t, t.TempDir(), fmt.Sprintf("{driver: postgres, dsn: %q}", dsn), srv.URL))
	faultStorage(t, c, rc, false, func() {
		_, err := pool.Exec(ctx, "ALTER ROLE "+role+" NOLOGIN")
		require.NoError(t, err)
		_, err = pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		require.NoError(t, err)
	}, func() {
		_, err := pool.Exec(ctx, "ALTER ROLE "+role+" LOGIN")
		require.NoError(t, err)
	})
	c.stop(t, 20*time.Second)
}

// TestFaultIsolation: a target that hangs past the timeout and one that answers 500 do not delay
// a healthy third: 100 events at 25/s go to all three, and the healthy receiver gets each one
// within a bound far below the failing targets' timeout, while the others fail.
func TestFaultIsolation(t *testing.T) {
	t.Parallel()
	var hung, failed, maxHung atomic.Int64
	var inHang atomic.Int64
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // so the server notices when the bridge gives up and closes the connection
		hung.Add(1)
		n := inHang.Add(1)
		defer inHang.Add(-1)
		for {
			m := maxHung.Load()
			if n <= m || maxHung.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failed.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(fail.Close)
	var mu sync.Mutex
	got := map[string]time.Time{}
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ ID string }
		_ = json.NewDecoder(r.Body).Decode(&ev)
		if !strings.HasPrefix(ev.ID, "iso-") {
			return // the bridge's own alert events about the failing targets
		}
		mu.Lock()
		if _, ok := got[ev.ID]; !ok {
			got[ev.ID] = time.Now()
		}
		mu.Unlock()
	}))
	t.Cleanup(healthy.Close)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db}
ingest: {secrets: [%q]}
delivery: {timeout: 2s, drain_timeout: 1s, max_attempts: 4, backoff: {initial: 100ms, max: 1s}}
targets:
  - {name: hang, type: webhook, url: %q, secret: %q}
  - {name: fail, type: webhook, url: %q, secret: %q}
  - {name: healthy, type: webhook, url: %q, secret: %q}
routes:
  - {name: everything, when: "true", targets: [hang, fail, healthy]}
`, ingestSecret, hang.URL, targetSecret, fail.URL, targetSecret, healthy.URL, targetSecret), 0o600))
	c := startChild(t, cfgPath)

	const n, rate = 100, 25
	acked := make([]time.Time, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	for i := range n {
		<-tick.C
		wg.Go(func() {
			a := faultPost(c.url, faultEvent("scan.started", fmt.Sprint("iso-", i)))
			if a.status == http.StatusOK && a.code == "accepted" {
				acked[i] = time.Now()
			}
		})
	}
	tick.Stop()
	wg.Wait()
	for i := range n {
		require.False(t, acked[i].IsZero(), "event %d accepted", i)
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n }, 20*time.Second, 50*time.Millisecond,
		"every event reaches the healthy target")

	var lat []time.Duration
	mu.Lock()
	for i := range n {
		lat = append(lat, max(0, got[fmt.Sprint("iso-", i)].Sub(acked[i])))
	}
	mu.Unlock()
	p50, p99, worst := crashPercentile(lat, 50), crashPercentile(lat, 99), crashPercentile(lat, 100)
	t.Logf("healthy target, from the ingest 200 to the receiver: p50=%s p99=%s max=%s; meanwhile the hanging target got %d requests "+
		"(up to %d at once, each cut off at 2s) and the failing one %d answers of 500",
		p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond), hung.Load(), maxHung.Load(), failed.Load())
	require.GreaterOrEqual(t, maxHung.Load(), int64(4), "the hanging target's workers were all stuck")
	require.GreaterOrEqual(t, failed.Load(), int64(5), "the failing target was failing")
	require.Less(t, worst, time.Second, "the healthy target is not held up by the others (their timeout is 2s)")
	c.stop(t, 20*time.Second)
}

// TestFaultRetention: finished events past storage.retention are pruned with their deliveries
// and attempts, unfinished ones are kept, and ingest keeps answering while a large backlog is
// pruned.
//
// The bridge prunes once an hour, first one hour after it starts (core.Dispatcher.Run), and
// nothing triggers it sooner, so the test calls the same Store.Prune the dispatcher does, on a
// database the real binary wrote, with the cutoff the dispatcher would use later.
func TestFaultRetention(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/reject":
			http.Error(w, "no", http.StatusBadRequest)
		case "/down":
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rcv.Close)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `
server: {listen: "127.0.0.1:0"}
storage: {dsn: bridge.db, retention: 2s}
ingest: {secrets: [%q], tolerance: 2s}
delivery: {timeout: 2s, drain_timeout: 1s, max_attempts: 10, backoff: {initial: 10m, max: 10m}}
targets:
  - {name: ok, type: webhook, url: %q, secret: %q}
  - {name: reject, type: webhook, url: %q, secret: %q}
  - {name: down, type: webhook, url: %q, secret: %q}
routes:
  - {name: ok, when: 'id startsWith "ok-"', targets: [ok]}
  - {name: reject, when: 'id startsWith "reject-"', targets: [reject]}
  - {name: down, when: 'id startsWith "down-"', targets: [down]}
`, ingestSecret, rcv.URL+"/ok", targetSecret, rcv.URL+"/reject", targetSecret, rcv.URL+"/down", targetSecret), 0o600))
	c := startChild(t, cfgPath)
	for _, id := range []string{"ok-1", "ok-2", "reject-1", "down-1"} {
		require.Equal(t, "accepted", faultPost(c.url, faultEvent("scan.started", id)).code)
	}
	require.Eventually(t, func() bool { return hits.Load() == 4 }, 10*time.Second, 20*time.Millisecond)
	c.stop(t, 20*time.Second)

	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite", filepath.Join(dir, "bridge.db"))
	require.NoError(t, err)
	defer db.Close()
	ids := map[string]string{} // event id → delivery id
	for _, target := range []string{"ok", "reject", "down"} {
		ds, atts := faultDeliveries(t, db, target)
		for _, d := range ds {
			ids[d.EventID] = d.ID
			require.Len(t, atts[d.ID], 1)
		}
	}
	require.Len(t, ids, 4)
	time.Sleep(5 * time.Millisecond)
	n, err := db.Prune(ctx, time.Now()) // everything is older than the cutoff now
	require.NoError(t, err)
	// ok-1, ok-2 (succeeded) and reject-1 (dead) are pruned, with any of the bridge's own
	// finished events (such as the one a dead delivery raises); down-1 waits for a retry.
	require.GreaterOrEqual(t, n, int64(3))
	for ev, id := range ids {
		atts, err := db.Attempts(ctx, id)
		require.NoError(t, err)
		_, derr := db.Delivery(ctx, id)
		if ev == "down-1" {
			require.NoError(t, derr)
			require.Len(t, atts, 1)
			continue
		}
		require.ErrorIs(t, derr, core.ErrNotFound, "the delivery goes with its event")
		require.Empty(t, atts, "and its attempts")
	}

	t.Run("ingest during a large prune", func(t *testing.T) {
		faultPruneStall(t)
	})
}

// faultPruneStall fills a SQLite store with a backlog of finished events past retention (each
// with 2 deliveries and 2 attempts, as a month of traffic leaves) and measures how long the
// ingest path (Store.Ingest, which the bus calls for every request) waits while Store.Prune
// removes it. On SQLite both share the one writer connection.
func faultPruneStall(t *testing.T) {
	const backlog = 5000
	dir := t.TempDir()
	path := filepath.Join(dir, "bridge.db")
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	old := time.Now().Add(-48 * time.Hour).UnixMilli()
	fill, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	start := time.Now()
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		 INSERT INTO events (id, type, occurred_at_ms, received_at_ms, sender_delivery, body)
		 SELECT 'old-' || i, 'scan.completed', ?, ?, '', '{"event":"scan.completed","id":"old-' || i || '"}' FROM n`,
		`INSERT INTO deliveries (id, event_id, target, route, state, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms)
		 SELECT e.id || '-' || t.name, e.id, t.name, 'r', 'succeeded', 1, ?, ?, ? FROM events e, (SELECT 'a' AS name UNION ALL SELECT 'b') t`,
		`INSERT INTO attempts (delivery_id, number, started_at_ms, duration_ms, outcome, status_code, error, response)
		 SELECT id, 1, ?, 5, 'success', 200, '', 'ok' FROM deliveries`,
	} {
		var args []any
		switch {
		case strings.Contains(q, "RECURSIVE"):
			args = []any{backlog, old, old}
		case strings.Contains(q, "INSERT INTO deliveries"):
			args = []any{old, old, old}
		default:
			args = []any{old}
		}
		_, err := fill.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	require.NoError(t, fill.Close())
	t.Logf("backlog of %d events, %d deliveries, %d attempts written in %s", backlog, 2*backlog, 2*backlog, time.Since(start).Round(time.Millisecond))

	stop := make(chan struct{})
	var lat []time.Duration
	var spans [][2]time.Time // each commit's start and end
	var ingestErrs int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			ev, err := event.Parse(faultEvent("scan.started", fmt.Sprint("new-", i)))
			if err != nil {
				panic(err)
			}
			ev.ReceivedAt = time.Now()
			t0 := time.Now()
			ictx, cancel := context.WithTimeout(ctx, 10*time.Second) // the bus's bound per commit
			_, err = db.Ingest(ictx, []core.IngestItem{{Event: ev}})
			cancel()
			t1 := time.Now()
			lat, spans = append(lat, t1.Sub(t0)), append(spans, [2]time.Time{t0, t1})
			if err != nil {
				ingestErrs++
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	pstart := time.Now()
	n, err := db.Prune(ctx, time.Now().Add(-time.Hour))
	took := time.Since(pstart)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-done
	require.NoError(t, err)
	require.Equal(t, int64(backlog), n)
	worst := crashPercentile(lat, 100)
	pend := pstart.Add(took)
	within := 0 // commits that began and ended while the prune ran
	for _, sp := range spans {
		if sp[0].After(pstart) && sp[1].Before(pend) {
			within++
		}
	}
	t.Logf("Prune removed %d events (and their %d deliveries and attempts) in %s; ingest meanwhile: %d commits, %d of them "+
		"within the prune, p50=%s max=%s, %d failed", n, 2*n, took.Round(time.Millisecond), len(lat), within,
		crashPercentile(lat, 50).Round(time.Millisecond), worst.Round(time.Millisecond), ingestErrs)
	assert.Zero(t, ingestErrs, "ingest keeps answering while old events are pruned")
	// Pruned in batches (backlog/pruneBatch = 10), ingest commits between two batches: its wait
	// is a batch, and it commits again and again while the prune runs. One DELETE for the whole
	// backlog holds the writer throughout: only the one commit it blocked can end within it (the
	// next starts 10 ms after that one ends, when the prune has returned).
	// Counted, not timed: how long a starved goroutine waits depends on the machine (390 ms of
	// an 822 ms prune under load), the interleaving does not.
	assert.GreaterOrEqual(t, within, 2,
		"ingest committed %d times during the prune's %s (worst wait %s): old rows must be pruned in batches, ingest committing in between",
		within, took, worst)
}
