// Package pgtest gives tests a PostgreSQL schema of their own on a shared server, so the
// Postgres tests of several packages run in parallel on one database.
//
// The server is the one in CORTEX_BRIDGE_TEST_POSTGRES (a postgres:// URL), by default this
// machine's PostgreSQL on 127.0.0.1:5432, database test, which scripts/test-setup starts when it is
// down. When it cannot be reached, the first test that asks for it fails with one line saying
// how to fix that, and every later one in the same test binary is skipped pointing at that
// failure, so a missing server is one failure, not one paragraph per test.
// CORTEX_BRIDGE_SKIP_POSTGRES=1 skips them all on a machine that has no PostgreSQL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

const (
	// DSNEnv names the variable holding the database the test schemas are created in.
	DSNEnv = "CORTEX_BRIDGE_TEST_POSTGRES"
	// SkipEnv, set to 1, skips the PostgreSQL tests on a machine without a server.
	SkipEnv = "CORTEX_BRIDGE_SKIP_POSTGRES"
	// DefaultDSN is this machine's server (trust authentication, database test).
	DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	// connectTimeout bounds the one reachability check; a refused port answers at once.
	connectTimeout = 10 * time.Second
)

var admin struct {
	once     sync.Once
	dsn      string
	pool     *pgxpool.Pool
	err      error
	mu       sync.Mutex
	reporter string // the test that reported the failure
}

// Admin returns a pool on the database the schemas are made in, and its DSN. It connects once
// per test binary. When the server is not reachable, the first caller fails with one line and
// later callers are skipped.
func Admin(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: skipping the PostgreSQL tests", SkipEnv)
	}
	admin.once.Do(connect)
	if admin.err == nil {
		return admin.pool, admin.dsn
	}
	admin.mu.Lock()
	first := admin.reporter == ""
	if first {
		admin.reporter = t.Name()
	}
	reporter := admin.reporter
	admin.mu.Unlock()
	if !first {
		t.Skipf("PostgreSQL not reachable: reported once, by %s", reporter)
	}
	t.Fatal(Unreachable(admin.dsn, admin.err))
	return nil, ""
}

func connect() {
	admin.dsn = os.Getenv(DSNEnv)
	if admin.dsn == "" {
		admin.dsn = DefaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	admin.pool, admin.err = pgxpool.New(ctx, admin.dsn)
	if admin.err == nil {
		if admin.err = admin.pool.Ping(ctx); admin.err != nil {
			admin.pool.Close()
		}
	}
}

// Unreachable is the one line a test fails with when the server at dsn answered err: where it
// looked, why it failed, and how to fix it. The DSN's password never shows.
func Unreachable(dsn string, err error) string {
	where := "(unparsable " + DSNEnv + ")"
	if u, perr := url.Parse(dsn); perr == nil {
		where = u.Host
	}
	return "PostgreSQL not reachable at " + where + ": run scripts/test-setup, which starts it " +
		"(or point " + DSNEnv + " at a server; " + SkipEnv + "=1 skips these tests): " + err.Error()
}

// Schema creates an empty schema t_<random> for t, dropped when t ends, and returns a DSN whose
// sessions use it (search_path). With owner set, the schema belongs to that role and the DSN
// logs in as it.
func Schema(t testing.TB, owner string) string {
	t.Helper()
	pool, dsn := Admin(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	q := "CREATE SCHEMA " + schema
	if owner != "" {
		q += " AUTHORIZATION " + owner
	}
	_, err := pool.Exec(context.Background(), q)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("dropping test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err, "%s must be a postgres:// URL", DSNEnv)
	if owner != "" {
		u.User = url.User(owner)
	}
	v := u.Query()
	v.Set("search_path", schema)
	u.RawQuery = v.Encode()
	return u.String()
}
