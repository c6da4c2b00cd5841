//go:build !linux

package store

import "os"

// journalSupported: there is no ingest journal on this platform; ingest writes to SQLite.
const journalSupported = false

func lockJournal(*os.File) (bool, error) { return false, nil }

func syncJournal(f *os.File) error { return f.Sync() }

func writeJournal(f *os.File, iov [][]byte, off int64) error {
	for _, b := range iov {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}
