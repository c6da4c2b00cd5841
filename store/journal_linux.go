package store

import (
	"errors"
	"io"
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

// writeJournal writes iov at off with as few pwritev calls as it takes (at most 1 024 slices a
// call, Linux's IOV_MAX), so the events' bodies are written where they are, not copied.
func writeJournal(f *os.File, iov [][]byte, off int64) error {
	for len(iov) > 0 {
		chunk := iov[:min(len(iov), 1024)]
		n, err := unix.Pwritev(int(f.Fd()), chunk, off)
		if err != nil {
			return err
		}
		if n == 0 && len(chunk[0]) > 0 {
			return io.ErrShortWrite
		}
		off += int64(n)
		// Past what was written: whole slices dropped, a slice written in part cut.
		for len(iov) > 0 && n >= len(iov[0]) {
			n -= len(iov[0])
			iov = iov[1:]
		}
		if n > 0 {
			iov = append([][]byte{iov[0][n:]}, iov[1:]...)
		}
	}
	return nil
}
