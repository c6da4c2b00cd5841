package file

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// access(2) modes: write, and search (enter) for a folder.
const (
	accessWrite  = 0x2
	accessSearch = 0x1
)

// CheckPath reports, without creating or opening anything, why New could not open path for
// appending: an existing path must be a file (not a folder) this process may write; a missing
// one needs its nearest existing ancestor to be a folder this process may write in, as New
// creates the missing folders. The error names the path and the cause (not a directory,
// permission denied, read-only file system). It is what `validate` runs for a file target, so
// a service's pre-start check fails where serve would; the SQLite file is checked the same way.
func CheckPath(path string) error {
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return &fs.PathError{Op: "open", Path: path, Err: syscall.EISDIR}
	case err == nil:
		return access(path, accessWrite)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		switch {
		case err == nil && !info.IsDir():
			return &fs.PathError{Op: "mkdir", Path: filepath.Dir(path), Err: syscall.ENOTDIR}
		case err == nil:
			return access(dir, accessWrite|accessSearch)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		case dir == filepath.Dir(dir):
			return err // the root itself is missing
		}
	}
}

func access(path string, mode uint32) error {
	if err := syscall.Access(path, mode); err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}
