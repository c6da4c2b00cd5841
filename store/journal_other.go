//go:build !linux

package store

import "os"

// journalSupported: there is no ingest journal on this platform; ingest writes to SQLite.
const journalSupported = false

func lockJournal(*os.File) (bool, error) { return false, nil }

func syncJournal(f *os.File) error { return f.Sync() }
