package core_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"math"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/sender"
)

func streamEvents(t testing.TB) []*event.Event {
	t.Helper()
	var out []*event.Event
	for _, line := range streamLines(t) {
		ev, err := event.Parse(line)
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

// streamLines is samples/stream.jsonl, one event body per line.
func streamLines(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open("../samples/stream.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	require.NoError(t, sc.Err())
	return out
}

// TestDigestFiguresMatchTheStream checks NewDigest against figures computed here, directly from
// the sample stream.
func TestDigestFiguresMatchTheStream(t *testing.T) {
	t.Parallel()
	evs := streamEvents(t)
	counts := map[string]int{}
	var completed, failed, timedOut, scored int
	var sum float64
	lowest := math.Inf(1)
	issues := map[string]bool{}
	for _, ev := range evs {
		counts[ev.Type]++
		switch ev.Type {
		case "scan.completed":
			completed++
			if s, ok := ev.Data["score"].(float64); ok {
				scored++
				sum += s
				lowest = math.Min(lowest, s)
			}
		case "scan.failed":
			failed++
		case "scan.timeout":
			timedOut++
		case "issue.critical":
			issues[ev.String("issue_id")] = true
		}
	}
	d := notify.NewDigest("weekly", evs[0].Timestamp, evs[len(evs)-1].Timestamp, evs, 70)
	require.Equal(t, counts, d.Counts)
	require.Len(t, d.Events, len(evs))
	require.Equal(t, completed, d.Scans.Completed)
	require.Equal(t, failed, d.Scans.Failed)
	require.Equal(t, timedOut, d.Scans.TimedOut)
	require.Equal(t, scored, d.Scans.Scored)
	require.InDelta(t, sum/float64(scored), d.Scans.AverageScore, 0.05)
	require.Equal(t, lowest, d.Scans.LowestScore)
	require.Len(t, d.CriticalIssues, len(issues))
	for _, r := range d.Scans.BelowThreshold {
		require.Less(t, r.Score, 70.0)
	}
	for i := 1; i < len(d.Events); i++ {
		require.False(t, d.Events[i].Timestamp.Before(d.Events[i-1].Timestamp), "oldest first")
	}
	csv := string(d.CSV())
	require.Equal(t, len(evs)+1, len(splitLines(csv)), "one CSV row per event and a header")
}

func splitLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestDigestOfNothing(t *testing.T) {
	t.Parallel()
	d := notify.NewDigest("quiet", time.Time{}, time.Time{}, nil, 0)
	require.Zero(t, d.Scans.LowestScore)
	require.Zero(t, d.Scans.AverageScore)
	require.Equal(t, float64(notify.DefaultScoreThreshold), d.Threshold)
	require.Empty(t, d.CriticalIssues)
}

// TestSchedulerCoversEachEventOnce: events across two periods with a restart between them and
// missed activations: every event is in exactly one digest run, and the missed activations are
// caught up once. A unit test: it steps the clock and calls the scheduler itself (Sync, RunDue,
// a new Scheduler for the restart).
func TestSchedulerCoversEachEventOnce(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	set := func(s string) {
		ts, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		clock.Store(ts.UnixNano())
	}
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	hourly, err := cron.ParseStandard("0 * * * *")
	require.NoError(t, err)
	spec := &core.DigestSpec{Name: "hourly", Spec: "0 * * * * UTC", Schedule: hourly, Location: time.UTC, Target: "mail", Template: "compliance-digest"}
	log := slog.New(slog.DiscardHandler)
	router := &core.Router{Digests: []*core.DigestSpec{spec}, Log: log}
	e := startEngine(t, "", core.DispatcherConfig{Owner: "o"}, &core.Plan{Router: router}, now)
	db, bus := e.store, e.bus
	newScheduler := func() *core.Scheduler {
		return &core.Scheduler{Store: db, Owner: "o", Digests: func() []*core.DigestSpec { return router.Digests }, NowFunc: now, Log: log}
	}
	accept := func(id string) {
		ev, err := event.Parse([]byte(`{"event":"scan.completed","id":"` + id + `","timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":"s","score":50}}`))
		require.NoError(t, err)
		_, err = bus.Accept(context.Background(), ev)
		require.NoError(t, err)
	}
	ctx := context.Background()

	set("2026-03-02T10:05:00Z")
	s := newScheduler()
	require.NoError(t, s.Sync(ctx))
	accept("e1")
	set("2026-03-02T10:59:59Z")
	require.NoError(t, s.RunDue(ctx))
	set("2026-03-02T11:00:30Z")
	accept("e2") // received after 11:00: belongs to the next period
	require.NoError(t, s.RunDue(ctx))

	// restart: a new scheduler on the same database; three activations are missed
	s = newScheduler()
	require.NoError(t, s.Sync(ctx))
	set("2026-03-02T11:30:00Z")
	accept("e3")
	set("2026-03-02T14:20:00Z")
	require.NoError(t, s.RunDue(ctx))
	require.NoError(t, s.RunDue(ctx))

	ds, err := db.Deliveries(ctx, core.DeliveryFilter{Target: "mail"})
	require.NoError(t, err)
	require.Len(t, ds, 2, "one run at 11:00 and one catch-up for 12:00–14:00, not three")
	runs := map[string][]string{}
	for _, d := range ds {
		evs, err := db.DigestEvents(ctx, d.EventID)
		require.NoError(t, err)
		runs[d.EventID] = eventIDs(evs)
	}
	require.Equal(t, map[string][]string{
		"digest_hourly_20260302T110000Z": {"e1"},
		"digest_hourly_20260302T140000Z": {"e2", "e3"},
	}, runs)
	st, ok, err := db.DigestState(ctx, "hourly")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "2026-03-02T15:00:00Z", st.NextRun.Format(time.RFC3339))
	require.Equal(t, "2026-03-02T14:00:00Z", st.LastEnd.Format(time.RFC3339))
}

func eventIDs(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

const digestToMail = `
ingest: {secrets: ["{{.Secret}}"]}
targets:
  - name: siem
    type: email
    smtp: {host: "{{.SMTPHost}}", port: {{.SMTPPort}}, tls: none}
    from: "Cortex Bridge <bridge@example.com>"
    to: ["siem@example.com"]
routes: []
digests:
  - {name: siem-daily, schedule: "@every 1h", timezone: UTC, target: siem, template: compliance-digest}
`

// TestDigestIsDeliveredLikeAnyDelivery: forty events posted to a running bridge; when the
// period closes (on the bridge's clock) the digest reaches the target's relay through the
// queue, rendered with the digest template, with every event attached as CSV.
func TestDigestIsDeliveredLikeAnyDelivery(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	start := time.Now().UTC()
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	b := bridgetest.Start(t, digestToMail, bridgetest.WithNow(now))
	for _, raw := range streamLines(t)[:40] {
		body, err := sender.Restamp(raw, now())
		require.NoError(t, err)
		require.Equal(t, "accepted", b.Send(body).Status)
	}
	b.WaitIdle(5 * time.Second)
	clock.Add(int64(time.Hour + time.Second))
	mail := b.Mail.Wait(t, 1, 10*time.Second)[0].Data
	require.Len(t, b.Mail.Mails(), 1)
	require.Contains(t, string(mail), "Events (40)", "rendered with the digest template")
	name, csv := mailAttachment(t, mail)
	// Named by the UTC date of the period's end, which falls between start and the clock's
	// last step: either day when the test runs in the last hour before midnight.
	require.Contains(t, []string{"cortex-digest-siem-daily-" + start.Format(time.DateOnly) + ".csv",
		"cortex-digest-siem-daily-" + now().Format(time.DateOnly) + ".csv"}, name)
	require.Len(t, strings.Split(strings.TrimSpace(csv), "\n"), 41, "a header and every event")
	ds := b.WaitFinal(core.DeliveryFilter{Target: "siem"}, 1, 5*time.Second)
	require.Len(t, ds, 1)
	require.Equal(t, core.StateSucceeded, ds[0].State)
	evs, err := b.Store.DigestEvents(context.Background(), ds[0].EventID)
	require.NoError(t, err)
	require.Len(t, evs, 40)
}

// mailAttachment is the file name and the decoded content of the text/csv part of a mail.
func mailAttachment(t *testing.T, raw []byte) (name, content string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := parts.NextPart()
		require.NoError(t, err, "no text/csv part")
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/csv") {
			b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
			require.NoError(t, err)
			return p.FileName(), string(b)
		}
	}
}
