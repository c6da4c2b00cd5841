package store

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// latestMigration is the highest migration version embedded for dir (file names start with
// their version, as goose wants).
func latestMigration(dir string) int64 {
	entries, _ := fs.ReadDir(migrations, dir)
	var latest int64
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.ParseInt(num, 10, 64); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// MigrationsCurrent returns an error unless the database's schema is at this build's latest
// migration (it may not be when another replica of a different version migrated it).
func (d *DB) MigrationsCurrent(ctx context.Context) error {
	var version int64
	if err := d.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&version); err != nil {
		return unavailable("schema version", err)
	}
	if want := latestMigration(d.dialect.migrations); version != want {
		return fmt.Errorf("schema is at version %d; this build expects %d", version, want)
	}
	return nil
}
