package store

import "strings"

// ListenerState reports db's Postgres listener: the backend pid of its current connection (0
// before the first) and how many times it has connected and run LISTEN.
func ListenerState(db *DB) (pid uint32, connects int64) {
	return db.pg.pid.Load(), db.pg.connects.Load()
}

// LatestMigration exposes latestMigration to the tests.
var LatestMigration = latestMigration

// QueryPlan returns SQLite's EXPLAIN QUERY PLAN of one of the store's statements, one detail per
// line.
func QueryPlan(db *DB, query string, args ...any) (string, error) {
	rows, err := db.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		out = append(out, detail)
	}
	return strings.Join(out, "\n"), rows.Err()
}

// DueTargetsSQL exposes the poller's query to the tests.
const DueTargetsSQL = dueTargetsSQL

// ClaimSQLite exposes SQLite's claim statement to the tests.
const ClaimSQLite = claimSQLite

// SetListPlan makes db's events list drive from a filter only when it matches at most sparse
// events, walk dense free text in chunks of chunk events, at most chunks of them, and walk a
// filter on deliveries in the list's order (reading no more deliveries than events wanted) only
// when ordered. All zero and ordered: the defaults.
func SetListPlan(db *DB, sparse, chunk, chunks int, ordered bool) {
	if sparse == 0 && chunk == 0 && chunks == 0 && ordered {
		db.listPlan = listPlan{}
		return
	}
	db.listPlan = listPlan{sparse: sparse, chunk: chunk, chunks: chunks, noOrdered: !ordered}
}

// WriterSynchronous returns PRAGMA synchronous of db's SQLite writer connection (2 is FULL).
func WriterSynchronous(db *DB) (int, error) {
	var v int
	err := db.w.QueryRow("PRAGMA synchronous").Scan(&v)
	return v, err
}

// ReaderCacheSize returns PRAGMA cache_size of one of db's SQLite read connections.
func ReaderCacheSize(db *DB) (int, error) {
	var v int
	err := db.r.QueryRow("PRAGMA cache_size").Scan(&v)
	return v, err
}
