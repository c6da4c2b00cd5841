package silences_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/silences"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// clock is a settable time.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }
func openDB(t *testing.T) *store.DB {
	t.Helper()
	return open(t, "sqlite", filepath.Join(t.TempDir(), "b.db"))
}

func open(t *testing.T, driver, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// databases open two connections ("replicas") to one new database of each kind.
var databases = map[string]func(t *testing.T) (a, b *store.DB){
	"sqlite": func(t *testing.T) (*store.DB, *store.DB) {
		path := filepath.Join(t.TempDir(), "b.db")
		return open(t, "sqlite", path), open(t, "sqlite", path)
	},
	"postgres": func(t *testing.T) (*store.DB, *store.DB) {
		dsn := pgtest.Schema(t, "")
		return open(t, "postgres", dsn), open(t, "postgres", dsn)
	},
}

func finding(t *testing.T, id, repo, title, file string) *event.Event {
	t.Helper()
	body := fmt.Sprintf(`{"event":"issue.critical","id":%q,"timestamp":"2026-03-04T05:06:07Z","data":{"scan_id":"s","issue_id":"i","severity":"critical","title":%s,"file":%s,"repo_url":%s}}`,
		id, strconv.Quote(title), strconv.Quote(file), strconv.Quote(repo))
	ev, err := event.Parse([]byte(body))
	require.NoError(t, err)
	return ev
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	future := t0.Add(time.Hour)
	past := t0.Add(-time.Second)
	far := t0.Add(silences.MaxDuration + time.Second)
	tests := map[string]struct {
		in    silences.Input
		field string // "" = valid
	}{
		"duration":          {silences.Input{When: `severity == "low"`, Duration: "2h"}, ""},
		"expires_at":        {silences.Input{When: `true`, ExpiresAt: &future}, ""},
		"no when":           {silences.Input{Duration: "1h"}, "when"},
		"blank when":        {silences.Input{When: "  ", Duration: "1h"}, "when"},
		"unknown name":      {silences.Input{When: `scroe < 70`, Duration: "1h"}, "when"},
		"not boolean":       {silences.Input{When: `score`, Duration: "1h"}, "when"},
		"huge when":         {silences.Input{When: `title == "` + string(make([]byte, silences.MaxRuleBytes)) + `"`, Duration: "1h"}, "when"},
		"no expiry":         {silences.Input{When: `true`}, "duration"},
		"both":              {silences.Input{When: `true`, Duration: "1h", ExpiresAt: &future}, "duration"},
		"bad duration":      {silences.Input{When: `true`, Duration: "a day"}, "duration"},
		"negative duration": {silences.Input{When: `true`, Duration: "-1h"}, "duration"},
		"too long":          {silences.Input{When: `true`, Duration: "2161h"}, "duration"},
		"expired":           {silences.Input{When: `true`, ExpiresAt: &past}, "expires_at"},
		"too far":           {silences.Input{When: `true`, ExpiresAt: &far}, "expires_at"},
		"long comment":      {silences.Input{When: `true`, Duration: "1h", Comment: string(make([]byte, silences.MaxCommentBytes+1))}, "comment"},
		"bad utf-8 by":      {silences.Input{When: `true`, Duration: "1h", CreatedBy: "\xff"}, "created_by"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := silences.Validate(tt.in, t0)
			if tt.field == "" {
				require.NoError(t, err)
				require.True(t, s.ExpiresAt.After(t0))
				return
			}
			var bad silences.FieldErrors
			require.ErrorAs(t, err, &bad)
			require.Contains(t, bad, tt.field, bad.Error())
		})
	}
}

// TestSilenceLifecycle: a created silence silences matching events at once on its replica, on
// another replica (its own connection to the database) after that one's refresh, stops at its
// expiry (between refreshes too) or when ended, and every change is in the audit log; on
// SQLite and PostgreSQL.
func TestSilenceLifecycle(t *testing.T) {
	t.Parallel()
	for name, openReplicas := range databases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSilenceLifecycle(t, openReplicas)
		})
	}
}

func testSilenceLifecycle(t *testing.T, openReplicas func(t *testing.T) (a, b *store.DB)) {
	ctx := context.Background()
	db, replica := openReplicas(t)
	clk := newClock(t0)
	a := &silences.Service{Store: db, NowFunc: clk.now}
	b := &silences.Service{Store: replica, NowFunc: clk.now} // another replica
	require.NoError(t, b.Refresh(ctx))
	ev := finding(t, "e1", "https://github.com/acme/api", "SQL injection", "db.go")
	other := finding(t, "e2", "https://github.com/acme/web", "SQL injection", "db.go")

	s, err := a.Create(ctx, silences.Input{When: `repo_url == "https://github.com/acme/api"`, Duration: "1h", Comment: "deploy"}, "api:ops")
	require.NoError(t, err)
	require.Equal(t, "api:ops", s.CreatedBy)
	id, ok := a.Silenced(ev, clk.now())
	require.True(t, ok)
	require.Equal(t, s.ID, id)
	_, ok = a.Silenced(other, clk.now())
	require.False(t, ok)
	_, ok = b.Silenced(ev, clk.now())
	require.False(t, ok, "the other replica has not refreshed yet")
	require.NoError(t, b.Refresh(ctx))
	_, ok = b.Silenced(ev, clk.now())
	require.True(t, ok)
	_, ok = b.Silenced(ev, t0.Add(time.Hour))
	require.False(t, ok, "expired, though not refreshed since")

	require.NoError(t, a.End(ctx, s.ID, "dashboard:alice"))
	_, ok = a.Silenced(ev, clk.now())
	require.False(t, ok)
	require.ErrorIs(t, a.End(ctx, s.ID, "dashboard:alice"), core.ErrConflict)
	require.ErrorIs(t, a.End(ctx, "nope", "dashboard:alice"), core.ErrNotFound)
	require.NoError(t, b.Refresh(ctx))
	_, ok = b.Silenced(ev, clk.now())
	require.False(t, ok)

	list, err := a.List(ctx, false, 0)
	require.NoError(t, err)
	require.Empty(t, list)
	list, err = a.List(ctx, true, 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "dashboard:alice", list[0].EndedBy)
	entries, err := db.AuditLog(ctx, s.ID, 0)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, []string{core.AuditSilenceEnd, core.AuditSilenceCreate}, []string{entries[0].Action, entries[1].Action})
	require.Equal(t, "dashboard:alice", entries[0].Actor)
}

func TestActiveSilencesAreLimited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock(t0)
	svc := &silences.Service{Store: openDB(t), NowFunc: clk.now}
	for i := range silences.MaxActive {
		_, err := svc.Create(ctx, silences.Input{When: fmt.Sprintf("id == %q", strconv.Itoa(i)), Duration: "1h"}, "api:ops")
		require.NoError(t, err)
	}
	_, err := svc.Create(ctx, silences.Input{When: "true", Duration: "1h"}, "api:ops")
	require.ErrorIs(t, err, core.ErrLimitReached)
	clk.add(time.Hour)
	_, err = svc.Create(ctx, silences.Input{When: "true", Duration: "1h"}, "api:ops")
	require.NoError(t, err, "expired silences do not count")
}

// TestMuteSilencesTheFinding: Mute silences later events of the same finding (type, repository,
// title, file), whatever their text holds, and no other finding; it is audited on the event.
func TestMuteSilencesTheFinding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t)
	clk := newClock(t0)
	svc := &silences.Service{Store: db, NowFunc: clk.now}
	title := "Injection \"quoted\" \\ `tick` ${x} \u2028 é"
	first := finding(t, "e1", "https://github.com/acme/api", title, "a/b.go")
	first.ReceivedAt = t0
	_, err := db.Ingest(ctx, []core.IngestItem{{Event: first}})
	require.NoError(t, err)
	_, err = svc.Mute(ctx, "nope", "slack", "U1", "alice", time.Hour)
	require.ErrorIs(t, err, core.ErrNotFound)

	s, err := svc.Mute(ctx, "e1", "slack", "U1", "alice", 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, t0.Add(24*time.Hour), s.ExpiresAt)
	require.Equal(t, "slack:U1 (alice)", s.CreatedBy)
	again, err := svc.Mute(ctx, "e1", "slack", "U2", "bob", 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, s.ID, again.ID, "a second mute of the same length finds the first")
	longer, err := svc.Mute(ctx, "e1", "slack", "U1", "alice", 7*24*time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, s.ID, longer.ID, "a longer mute is a new silence")
	tests := map[string]struct {
		ev   *event.Event
		want bool
	}{
		"same finding": {finding(t, "e2", "https://github.com/acme/api", title, "a/b.go"), true},
		"other file":   {finding(t, "e3", "https://github.com/acme/api", title, "a/c.go"), false},
		"other repo":   {finding(t, "e4", "https://github.com/acme/web", title, "a/b.go"), false},
		"other title":  {finding(t, "e5", "https://github.com/acme/api", title+"!", "a/b.go"), false},
	}
	for name, tt := range tests {
		tt.ev.Fingerprint = core.FindingsPolicy{}.FingerprintOf(tt.ev) // as ingest sets it
		_, ok := svc.Silenced(tt.ev, clk.now())
		require.Equal(t, tt.want, ok, name)
	}
	entries, err := db.AuditLog(ctx, "e1", 0)
	require.NoError(t, err)
	require.Len(t, entries, 2, "the repeated mute changed nothing")
	require.Equal(t, core.AuditEventMute, entries[1].Action)
	require.Contains(t, entries[1].Detail, s.ID)
	require.Contains(t, entries[0].Detail, longer.ID)

	require.NoError(t, svc.Acknowledge(ctx, "e1", "slack", "U2", "bob"))
	require.ErrorIs(t, svc.Acknowledge(ctx, "nope", "slack", "U2", "bob"), core.ErrNotFound)
	acks, err := db.Acknowledgements(ctx, "e1")
	require.NoError(t, err)
	require.Equal(t, []core.Acknowledgement{{EventID: "e1", UserID: "U2", UserName: "bob", Source: "slack", At: t0}}, acks)
}

// BenchmarkSilenced is ingest's cost of the silences: one event checked against MaxActive
// active silences, none matching (the worst case: every rule runs).
func BenchmarkSilenced(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite", filepath.Join(b.TempDir(), "b.db"))
	require.NoError(b, err)
	defer db.Close()
	clk := newClock(t0)
	svc := &silences.Service{Store: db, NowFunc: clk.now}
	for i := range silences.MaxActive {
		_, err := svc.Create(ctx, silences.Input{When: fmt.Sprintf(`repo_url == "https://github.com/acme/r%d" && title == "t"`, i), Duration: "1h"}, "bench")
		require.NoError(b, err)
	}
	body := `{"event":"issue.critical","id":"e","timestamp":"2026-03-04T05:06:07Z","data":{"scan_id":"s","issue_id":"i","severity":"critical","title":"t","file":"f","repo_url":"https://github.com/acme/other"}}`
	ev, err := event.Parse([]byte(body))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := svc.Silenced(ev, t0); ok {
			b.Fatal("matched")
		}
	}
}
