package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// notifyChannel is the LISTEN/NOTIFY channel on which stores tell idle replicas that work
// arrived. The payload is the writer's current schema, so bridges that share a database in
// different schemas (and parallel tests) do not wake each other.
const notifyChannel = "cortex_bridge_work"

// postgres is the Postgres-only state of a DB: the pgx pool under database/sql, and the
// listener that turns notifications into Wake signals.
type postgres struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig // for the listener's own connection (outside the pool)
	schema  string          // current_schema() of the pool's sessions
	name    string          // user@host:port/database, for messages (never the password)
	log     *slog.Logger

	mu     sync.Mutex
	wakers []chan struct{}

	startOnce sync.Once
	stop      context.CancelFunc // set by startOnce
	done      chan struct{}      // closed when the listener goroutine has returned
	pid       atomic.Uint32      // backend pid of the current listener connection (tests)
	connects  atomic.Int64       // successful LISTENs so far (tests)
}

// Pool defaults, unless the DSN sets pool_max_conns / pool_min_idle_conns / connect_timeout.
// A replica uses one connection for the ingest writer, one for the completion writer, one for the
// poller and one per concurrent read (API, renders loading digest events); the listener has its
// own connection outside the pool.
func defaultMaxConns() int32 { return int32(2*runtime.GOMAXPROCS(0) + 4) }

const (
	defaultMinIdleConns   = 2
	defaultConnectTimeout = 10 * time.Second
)

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	if dsn == "" {
		return nil, errors.New("storage.dsn: required (a postgres:// URL)")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("storage.dsn: %w", err) // pgx redacts the password
	}
	has := func(key string) bool { return strings.Contains(dsn, key) }
	if !has("pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	if !has("pool_min_idle_conns") && !has("pool_min_conns") {
		cfg.MinIdleConns = min(defaultMinIdleConns, cfg.MaxConns)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "cortex-bridge"
	}
	cc := cfg.ConnConfig
	name := fmt.Sprintf("postgres %s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	fail := func(format string, args ...any) (*DB, error) {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf(format, args...)
	}
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fail("open %s: %w", name, err)
	}
	if !schema.Valid {
		return fail("open %s: no schema to create the tables in: search_path names no existing schema", name)
	}
	// Replicas starting together migrate one after the other: goose holds a session advisory lock
	// (one per schema) while it migrates, and the others wait for it, retrying every second.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID(schema.String)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fail("migrate %s: %w", name, err)
	}
	if err := migrate(ctx, db, &postgresDialect, goose.WithSessionLocker(locker)); err != nil {
		return fail("migrate %s: %w", name, err)
	}
	listenCfg := cc.Copy()
	listenCfg.RuntimeParams["application_name"] = cc.RuntimeParams["application_name"] + " listener"
	pg := &postgres{
		pool: pool, connCfg: listenCfg, schema: schema.String, name: name, log: slog.Default(), done: make(chan struct{}),
	}
	return &DB{dialect: &postgresDialect, w: db, r: db, pg: pg, close: func() error { return pg.close(db) }}, nil
}

// migrationLockID is the advisory lock goose holds while migrating schema: the same for every
// replica on that schema, different for other schemas of the database.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cortex-bridge migrations\x00" + schema))
	return int64(h.Sum64())
}

func (p *postgres) close(db *sql.DB) error {
	p.startOnce.Do(func() {}) // no listener starts after Close
	if p.stop != nil {
		p.stop()
		<-p.done
	}
	err := db.Close()
	p.pool.Close()
	return err
}

// pgText makes s storable in a Postgres text column, which (unlike SQLite's) rejects NUL bytes
// and invalid UTF-8: those become U+FFFD. Valid text is unchanged. Used on every string the
// Postgres store writes or looks up, so a lookup finds what was stored.
func pgText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func pgTexts(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = pgText(v)
	}
	return out
}
