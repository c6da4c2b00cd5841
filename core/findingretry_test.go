package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/metrics"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// failingCompares is a real store on which the comparisons of one scan always fail.
type failingCompares struct {
	core.FindingStore
	bad string
}

func (f failingCompares) CompareScan(ctx context.Context, scanID string, fn func(*core.ScanComparison) (*core.ScanResult, error)) (bool, error) {
	if scanID == f.bad {
		return false, errors.New("this scan cannot be compared")
	}
	return f.FindingStore.CompareScan(ctx, scanID, fn)
}

// logLines is a slog JSON handler's output, read line by line.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// with returns the records whose msg is msg.
func (l *logLines) with(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// findingScans reads cortex_bridge_findings_scans_total{outcome} from m.
func findingScans(t *testing.T, m *metrics.Metrics, outcome string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != "cortex_bridge_findings_scans_total" {
			continue
		}
		for _, c := range f.GetMetric() {
			if c.GetLabel()[0].GetValue() == outcome {
				return c.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no cortex_bridge_findings_scans_total{outcome=%q}", outcome)
	return 0
}

// findingsEngine is an engine with a metrics observer whose findings settle at once, and a
// runner on a clock the test moves.
type findingsEngine struct {
	*engine
	metrics *metrics.Metrics
	logs    *logLines
	runner  *core.FindingsRunner
	now     time.Time
}

func newFindingsEngine(t *testing.T, bad string) *findingsEngine {
	t.Helper()
	engine, err := templates.New("")
	require.NoError(t, err)
	m := metrics.New("test", nil)
	e := startEngine(t, "", core.DispatcherConfig{PollInterval: 20 * time.Millisecond, Observer: m},
		&core.Plan{Renderer: &core.Renderer{Engine: engine}, Router: &core.Router{}, Findings: core.FindingsPolicy{Settle: time.Nanosecond},
			Retry: core.RetryPolicy{MaxAttempts: 1, Initial: time.Second, Max: time.Second}}, nil)
	fe := &findingsEngine{engine: e, metrics: m, logs: &logLines{}, now: time.Now().Add(time.Second)}
	fe.runner = &core.FindingsRunner{Store: failingCompares{FindingStore: e.store, bad: bad}, Disp: e.disp,
		NowFunc: func() time.Time { return fe.now }, Log: slog.New(slog.NewJSONHandler(fe.logs, nil))}
	return fe
}

// scan ingests one scan's events: scan.started naming repo (none when repo is ""), an
// issue.critical, scan.completed.
func (fe *findingsEngine) scan(t *testing.T, id, repo string) {
	t.Helper()
	var bodies []string
	if repo != "" {
		bodies = append(bodies, fmt.Sprintf(`{"event":"scan.started","id":"%s-started","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":%q,"repo_url":%q,"branch":"main"}}`, id, id, repo))
	}
	bodies = append(bodies,
		fmt.Sprintf(`{"event":"issue.critical","id":"%s-issue","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":%q,"issue_id":"1","severity":"critical","title":"SQLi","file":"a.go"}}`, id, id),
		fmt.Sprintf(`{"event":"scan.completed","id":"%s-completed","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":%q,"status":"completed"}}`, id, id))
	for _, b := range bodies {
		ev, err := event.Parse([]byte(b))
		require.NoError(t, err)
		_, err = fe.bus.Accept(context.Background(), ev)
		require.NoError(t, err)
	}
}

// TestFindingsFailedComparisonBacksOff: a scan whose comparison fails is tried again with
// exponential backoff capped at core.FindingsRetry.Max, logged once per attempt with its scan
// and attempt, counted as failed; another scan is compared meanwhile.
func TestFindingsFailedComparisonBacksOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fe := newFindingsEngine(t, "bad")
	fe.scan(t, "bad", "https://github.com/acme/bad")
	fe.scan(t, "good", "https://github.com/acme/good")
	const failed = "findings: comparing a scan failed; will retry"

	require.NoError(t, fe.runner.RunDue(ctx))
	fs, err := fe.store.Findings(ctx, core.FindingFilter{})
	require.NoError(t, err)
	require.Len(t, fs, 1, "the good scan is compared")
	require.Len(t, fe.logs.with(t, failed), 1)
	require.NoError(t, fe.runner.RunDue(ctx))
	require.Len(t, fe.logs.with(t, failed), 1, "not tried again before its backoff")

	const attempts = 14
	for range attempts - 1 {
		fe.now = fe.now.Add(core.FindingsRetry.Max) // every delay is at most Max: due again
		require.NoError(t, fe.runner.RunDue(ctx))
	}
	recs := fe.logs.with(t, failed)
	require.Len(t, recs, attempts, "one line per attempt")
	for i, rec := range recs {
		require.Equal(t, "bad", rec["scan_id"])
		require.EqualValues(t, i+1, rec["attempt"])
		require.Contains(t, rec["err"], "this scan cannot be compared")
		d, err := time.ParseDuration(rec["retry_in"].(string))
		require.NoError(t, err)
		// Exponential from Initial with ±50% jitter, capped at Max.
		base := core.FindingsRetry.Initial << i
		require.LessOrEqual(t, d, min(base+base/2, core.FindingsRetry.Max), "attempt %d", i+1)
		require.GreaterOrEqual(t, d, min(base/2, core.FindingsRetry.Max/2), "attempt %d", i+1)
	}
	last, _ := time.ParseDuration(recs[attempts-1]["retry_in"].(string))
	require.LessOrEqual(t, last, core.FindingsRetry.Max, "capped")
	due, err := fe.store.DueScans(ctx, fe.now.Add(core.FindingsRetry.Max), 10)
	require.NoError(t, err)
	require.Equal(t, []core.DueScan{{ScanID: "bad", Attempts: attempts}}, due, "the attempts are kept with the scan")
	require.EqualValues(t, attempts, findingScans(t, fe.metrics, core.FindingScanFailed))
	require.EqualValues(t, 1, findingScans(t, fe.metrics, core.FindingScanCompared))
}

// TestFindingsUnknownScopeIsVisible: a scan no event of which named its repository is not
// compared: a Warn with its scan_id and the skipped count say so, once.
func TestFindingsUnknownScopeIsVisible(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fe := newFindingsEngine(t, "")
	fe.scan(t, "anonymous", "")
	require.NoError(t, fe.runner.RunDue(ctx))
	require.NoError(t, fe.runner.RunDue(ctx))
	recs := fe.logs.with(t, "findings: scan not compared: no event of it named its repository (repo_url)")
	require.Len(t, recs, 1)
	require.Equal(t, "WARN", recs[0]["level"])
	require.Equal(t, "anonymous", recs[0]["scan_id"])
	require.EqualValues(t, 1, findingScans(t, fe.metrics, core.FindingScanSkipped))
	require.Zero(t, findingScans(t, fe.metrics, core.FindingScanCompared))
	fs, err := fe.store.Findings(ctx, core.FindingFilter{})
	require.NoError(t, err)
	require.Empty(t, fs)
}
