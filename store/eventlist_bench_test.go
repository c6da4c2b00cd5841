package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/store"
	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// The events list at scale (BENCHMARKS.md, "Event list at 1 000 000 events"):
//
//	CORTEX_BRIDGE_BENCH_EVENTS=1000000 go test ./store/ -run x -bench BenchmarkEventList -benchtime 200x -timeout 60m
//
// loads the events straight into the tables (multi-row INSERTs on SQLite, COPY on PostgreSQL;
// not the ingest path), then times one page of each filter people use. Each sub-benchmark
// reports the p50, p90 and p99 of its pages in ms. CORTEX_BRIDGE_BENCH_EVENTS defaults to 20 000 so
// a plain -bench run stays short. CORTEX_BRIDGE_BENCH_KEEP=1 keeps the loaded data for the next
// run (the SQLite file in the temporary directory, the PostgreSQL schema bench_eventlist_<n>).
// On a loaded machine the p99 of 100 pages is the slowest page, set by scheduling; the p90
// shows more of what the plan costs.

// eventListSpan is the time the events are spread over (storage.retention's default).
const eventListSpan = 30 * 24 * time.Hour

// eventListData is what the generator made, for building the filters.
type eventListData struct {
	n      int
	base   time.Time // the oldest event's received time
	step   time.Duration
	tenant string // a registered webhook receiving 1 event in 200
}

func (d eventListData) received(i int) time.Time { return d.base.Add(time.Duration(i) * d.step) }

var (
	benchSeverities = []string{"critical", "high", "high", "medium", "medium", "medium", "low", "low"}
	benchTitles     = []string{"SQL injection in %s", "Hard-coded credentials in %s", "Path traversal in %s handler",
		"Cross-site scripting in %s template", "Insecure deserialization of %s", "Outdated dependency %s",
		"Server-side request forgery via %s", "Weak hash for %s", "Open redirect in %s", "Missing authorization on %s"}
	benchNouns = []string{"login", "checkout", "invoice", "profile", "search", "upload", "export", "session", "payment", "report",
		"admin", "webhook", "billing", "cart", "oauth", "token", "avatar", "comment", "order", "catalog"}
	benchExts = []string{"go", "py", "java", "ts", "rb", "php", "cs", "js"}
)

// benchEventRow is one generated event and its deliveries and hold.
type benchEventRow struct {
	id, typ, severity, repo, scan, title, file string
	received                                   int64
	body                                       []byte
	deliveries                                 [][]any // id, event_id, target, route, state, attempts, retry_base, next_ms, last_error, created, updated, event received
	hold                                       []any   // target, route, group_key, event_id, received, member, closes, group_id
}

// genEvents makes event i of d: 60% issue.critical over 500 repositories, 20 events a scan;
// every event to the config target siem; 1 in 10 to one of 20 registered webhooks; 1 in 200
// deliveries failing (pending after a failed attempt), 1 in 100 dead; 1 in 20 held by a group.
func genEvent(d eventListData, i int) benchEventRow {
	r := rand.New(rand.NewPCG(uint64(i), 19))
	received := d.received(i).UnixMilli()
	row := benchEventRow{id: fmt.Sprintf("evt_%08d", i), received: received,
		repo: fmt.Sprintf("https://github.com/acme/service-%03d", r.IntN(500)), scan: fmt.Sprintf("scan_%07d", i/20)}
	if r.IntN(10) < 6 {
		noun := benchNouns[r.IntN(len(benchNouns))]
		row.typ, row.severity = "issue.critical", benchSeverities[r.IntN(len(benchSeverities))]
		row.title = fmt.Sprintf(benchTitles[r.IntN(len(benchTitles))], noun)
		row.file = fmt.Sprintf("src/%s/%s_%d.%s", benchNouns[r.IntN(len(benchNouns))], noun, r.IntN(50), benchExts[r.IntN(len(benchExts))])
		row.body = fmt.Appendf(nil, `{"event":"issue.critical","id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":%q,"issue_id":"iss_%d","severity":%q,"title":%q,"file":%q,"line":%d,"repo_url":%q,"rule_id":"R%03d","cwe":"CWE-89"}}`,
			row.id, row.scan, i, row.severity, row.title, row.file, 1+r.IntN(900), row.repo, r.IntN(300))
	} else {
		row.typ = []string{"scan.started", "scan.completed", "scan.failed", "scan.progress"}[r.IntN(4)]
		row.body = fmt.Appendf(nil, `{"event":%q,"id":%q,"timestamp":"2026-01-01T00:00:00Z","data":{"scan_id":%q,"repo_url":%q,"score":%d}}`,
			row.typ, row.id, row.scan, row.repo, r.IntN(100))
	}
	dl := func(target string) []any {
		state, attempts, lastErr := "succeeded", 1, ""
		switch x := r.IntN(200); {
		case x == 0:
			state, lastErr = "pending", "server_error (status 503)"
		case x <= 2:
			state, attempts, lastErr = "dead", 4, "server_error (status 500)"
		}
		return []any{fmt.Sprintf("dl_%08d_%s", i, target), row.id, target, "r-" + target, state, attempts, 0, received + 60_000, lastErr, received, received, received}
	}
	row.deliveries = [][]any{dl("siem")}
	if r.IntN(10) == 0 {
		row.deliveries = append(row.deliveries, dl(fmt.Sprintf("wh_%02d", r.IntN(20))))
	}
	if i%200 == 7 {
		row.deliveries = append(row.deliveries, dl(d.tenant))
	}
	if r.IntN(20) == 0 {
		row.hold = []any{"slack", "critical", row.scan, row.id, received, 1, 0, "group_" + row.scan}
	}
	return row
}

// loadSQLite fills the database at path (migrated by store.Open) with d.n events: multi-row
// INSERTs in transactions of 20 000 events (the FTS5 triggers index title and file).
func loadSQLite(b *testing.B, path string, d eventListData) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "PRAGMA synchronous = OFF"); err != nil {
		b.Fatal(err)
	}
	const perStmt, perTx = 50, 20_000
	insert := func(tx *sql.Tx, table, cols string, ncol int, rows [][]any) {
		for chunk := range slices.Chunk(rows, perStmt) {
			ph := "(?" + strings.Repeat(", ?", ncol-1) + ")"
			q := "INSERT INTO " + table + " (" + cols + ") VALUES " + ph + strings.Repeat(", "+ph, len(chunk)-1)
			var args []any
			for _, r := range chunk {
				args = append(args, r...)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				b.Fatal(err)
			}
		}
	}
	for start := 0; start < d.n; start += perTx {
		var evs, dls, holds [][]any
		for i := start; i < min(start+perTx, d.n); i++ {
			r := genEvent(d, i)
			evs = append(evs, []any{r.id, r.typ, r.received, r.received, "", r.body, r.severity, r.repo, r.scan, r.title, r.file})
			dls = append(dls, r.deliveries...)
			if r.hold != nil {
				holds = append(holds, r.hold)
			}
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		insert(tx, "events", "id, type, occurred_at_ms, received_at_ms, sender_delivery, body, severity, repository, scan_id, title, file", 11, evs)
		insert(tx, "deliveries", "id, event_id, target, route, state, attempts, retry_base, next_attempt_at_ms, last_error, created_at_ms, updated_at_ms, event_received_at_ms", 12, dls)
		insert(tx, "group_items", "target, route, group_key, event_id, received_at_ms, member, closes, group_id", 8, holds)
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// loadPostgres fills the schema of dsn (migrated by store.Open) with d.n events by COPY.
func loadPostgres(b *testing.B, dsn string, d eventListData) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	const perCopy = 100_000
	for start := 0; start < d.n; start += perCopy {
		var evs, dls, holds [][]any
		for i := start; i < min(start+perCopy, d.n); i++ {
			r := genEvent(d, i)
			evs = append(evs, []any{r.id, r.typ, r.received, r.received, "", r.body, r.severity, r.repo, r.scan, r.title, r.file})
			for _, dl := range r.deliveries {
				dls = append(dls, []any{dl[0], dl[1], dl[2], dl[3], dl[4], int32(dl[5].(int)), int32(dl[6].(int)), dl[7], dl[8], dl[9], dl[10], dl[11]})
			}
			if r.hold != nil {
				h := r.hold
				holds = append(holds, []any{h[0], h[1], h[2], h[3], h[4], int32(h[5].(int)), int32(h[6].(int)), h[7]})
			}
		}
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"events", []string{"id", "type", "occurred_at_ms", "received_at_ms", "sender_delivery", "body", "severity", "repository", "scan_id", "title", "file"}, evs},
			{"deliveries", []string{"id", "event_id", "target", "route", "state", "attempts", "retry_base", "next_attempt_at_ms", "last_error", "created_at_ms", "updated_at_ms", "event_received_at_ms"}, dls},
			{"group_items", []string{"target", "route", "group_key", "event_id", "received_at_ms", "member", "closes", "group_id"}, holds},
		} {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				b.Fatal(c.table, err)
			}
		}
	}
	// As autovacuum would after a load this size: the planner's statistics.
	for _, table := range []string{"events", "deliveries", "group_items"} {
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			b.Fatal(err)
		}
	}
}

// eventListFilters are the filters people use, with d's values.
func eventListFilters(d eventListData) []struct {
	name string
	f    core.EventFilter
} {
	deep := genEvent(d, d.n/10) // 90% of the way down the list
	mid := d.received(d.n / 2)
	return []struct {
		name string
		f    core.EventFilter
	}{
		{"newest", core.EventFilter{}},
		{"type+severity", core.EventFilter{Type: "issue.critical", Severity: "critical"}},
		{"repository", core.EventFilter{Repository: "https://github.com/acme/service-042"}},
		{"scan_id", core.EventFilter{ScanID: genEvent(d, d.n/2).scan}},
		{"time_range_1h", core.EventFilter{From: mid, To: mid.Add(time.Hour)}},
		{"failed", core.EventFilter{Delivery: core.EventsFailed}},
		{"dead", core.EventFilter{Delivery: core.EventsDead}},
		{"held", core.EventFilter{Delivery: core.EventsHeld}},
		{"text_common", core.EventFilter{Text: "injection"}},
		{"text_two_words", core.EventFilter{Text: "traversal checkout"}},
		{"text_rare", core.EventFilter{Text: "avatar_7"}},
		{"text_none", core.EventFilter{Text: "zzzz"}},
		{"tenant", core.EventFilter{Targets: []string{d.tenant}}},
		{"tenant+dead", core.EventFilter{Targets: []string{d.tenant}, Delivery: core.EventsDead}},
		{"tenant+type", core.EventFilter{Targets: []string{"wh_03", "wh_04"}, Type: "scan.failed"}},
		{"tenant_two", core.EventFilter{Targets: []string{"wh_03", "wh_04"}}},
		{"deep_cursor", core.EventFilter{Cursor: strconv.FormatInt(deep.received, 10) + "." + deep.id}},
		{"severity+repo+range", core.EventFilter{Severity: "high", Repository: "https://github.com/acme/service-007", From: mid.Add(-7 * 24 * time.Hour)}},
	}
}

// keptSchema makes (if missing) a schema that outlives the run and returns its DSN.
func keptSchema(b *testing.B, schema string) string {
	pool, dsn := pgtest.Admin(b)
	if _, err := pool.Exec(context.Background(), "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	v := u.Query()
	v.Set("search_path", schema)
	u.RawQuery = v.Encode()
	return u.String()
}

// pgxCount counts the events in dsn's schema.
func pgxCount(ctx context.Context, dsn string, n *int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, "SELECT count(*) FROM events").Scan(n)
}

// BenchmarkEventList: one op is one page (50 events) of the events list.
func BenchmarkEventList(b *testing.B) {
	n := 20_000
	if v := os.Getenv("CORTEX_BRIDGE_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("CORTEX_BRIDGE_BENCH_EVENTS=%q: want a number of events, at least 1000", v)
		}
	}
	d := eventListData{n: n, base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), step: eventListSpan / time.Duration(n), tenant: "wh_tenant"}
	ctx := context.Background()
	for _, drv := range []string{"sqlite", "postgres"} {
		b.Run(drv, func(b *testing.B) {
			var db *store.DB
			start := time.Now()
			keep := os.Getenv("CORTEX_BRIDGE_BENCH_KEEP") == "1"
			switch drv {
			case "sqlite":
				path := filepath.Join(b.TempDir(), "events.db")
				if keep {
					path = filepath.Join(os.TempDir(), fmt.Sprintf("cortex-bridge-eventlist-%d.db", n))
				}
				mig, err := store.Open(ctx, "sqlite", path)
				if err != nil {
					b.Fatal(err)
				}
				_ = mig.Close()
				if _, err := os.Stat(path + ".loaded"); !keep || err != nil {
					loadSQLite(b, path, d)
					if keep {
						_ = os.WriteFile(path+".loaded", nil, 0o600)
					}
				}
				if db, err = store.Open(ctx, "sqlite", path); err != nil {
					b.Fatal(err)
				}
			case "postgres":
				dsn := pgtest.Schema(b, "")
				if keep {
					dsn = keptSchema(b, fmt.Sprintf("bench_eventlist_%d", n))
				}
				db = openPG(b, dsn)
				var have int
				if err := pgxCount(ctx, dsn, &have); err != nil || have != n {
					loadPostgres(b, dsn, d)
				}
			}
			b.Cleanup(func() { _ = db.Close() })
			b.Logf("%s: %d events loaded in %s", drv, n, time.Since(start).Round(time.Second))
			for _, tc := range eventListFilters(d) {
				b.Run(tc.name, func(b *testing.B) {
					var took []time.Duration
					rows := 0
					for b.Loop() {
						t0 := time.Now()
						page, err := db.Events(ctx, tc.f)
						took = append(took, time.Since(t0))
						if err != nil {
							b.Fatal(err)
						}
						rows = len(page.Events)
					}
					slices.Sort(took)
					pct := func(p float64) float64 {
						return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
					}
					b.ReportMetric(pct(0.50), "p50-ms")
					b.ReportMetric(pct(0.90), "p90-ms")
					b.ReportMetric(pct(0.99), "p99-ms")
					b.ReportMetric(float64(rows), "rows")
				})
			}
		})
	}
}
