package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/store/pgtest"
)

// migrationCase is a kind of database the migration tests upgrade.
type migrationCase struct {
	name, driver, store string // test name, database/sql driver, Open's driver
	dia                 *dialect
	dsn                 func(t *testing.T) string // a new, empty database
}

var (
	sqliteCase = migrationCase{"sqlite", "sqlite", "sqlite", &sqliteDialect,
		func(t *testing.T) string { return filepath.Join(t.TempDir(), "old.db") }}
	postgresCase = migrationCase{"postgres", "pgx", "postgres", &postgresDialect,
		func(t *testing.T) string { return pgtest.Schema(t, "") }}
	// migrationCases are both databases.
	migrationCases = []migrationCase{sqliteCase, postgresCase}
)

// migratedTo makes a new database of c migrated up to version, the migrations after it left to
// the test: its connection (closed at the end of the test), the migrations' provider and the
// database's DSN (for Open once the test has stored what the next migration must carry over).
func (c migrationCase) migratedTo(t *testing.T, version int64) (*sql.DB, *goose.Provider, string) {
	t.Helper()
	dsn := c.dsn(t)
	db, err := sql.Open(c.driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	sub, err := fs.Sub(migrations, c.dia.migrations)
	require.NoError(t, err)
	p, err := goose.NewProvider(c.dia.goose, db, sub, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.UpTo(context.Background(), version)
	require.NoError(t, err)
	return db, p, dsn
}
