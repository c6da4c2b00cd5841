package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// journalSupported: Linux has the ingest journal (flock, fdatasync).
const journalSupported = true

// lockJournal takes an exclusive lock on the journal file for the life of the process (it goes
// with the file's close or the process); false when another process holds it.
func lockJournal(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// syncJournal waits for the journal's data to be on disk (fdatasync: the file's size does not
// change, journal.append grows it apart).
func syncJournal(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
