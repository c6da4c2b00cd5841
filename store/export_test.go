package store

// ListenerState reports db's Postgres listener: the backend pid of its current connection (0
// before the first) and how many times it has connected and run LISTEN.
func ListenerState(db *DB) (pid uint32, connects int64) {
	return db.pg.pid.Load(), db.pg.connects.Load()
}

// LatestMigration exposes latestMigration to the tests.
var LatestMigration = latestMigration
