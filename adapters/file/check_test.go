package file_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/file"
)

// TestCheckPathAgreesWithNew: CheckPath fails exactly where New fails, for the same cause, and
// creates nothing. Paths are made unusable without chmod (the tests may run as root): a path
// that is a folder, and paths under a regular file.
func TestCheckPathAgreesWithNew(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		path    func(dir string) string
		root    bool   // runs as root too (chmod does not stop root)
		wantErr string // "" = both succeed
	}{
		"new file in an existing folder": {path: func(dir string) string { return filepath.Join(dir, "audit.jsonl") }, root: true},
		"new file under missing folders": {path: func(dir string) string { return filepath.Join(dir, "a", "b", "audit.jsonl") }, root: true},
		"existing file": {path: func(dir string) string {
			p := filepath.Join(dir, "audit.jsonl")
			require.NoError(t, os.WriteFile(p, []byte("{}\n"), 0o600))
			return p
		}, root: true},
		"the path is a folder": {path: func(dir string) string { return dir }, root: true, wantErr: "is a directory"},
		"the folder is a regular file": {path: func(dir string) string {
			p := filepath.Join(dir, "regular")
			require.NoError(t, os.WriteFile(p, nil, 0o600))
			return filepath.Join(p, "audit.jsonl")
		}, root: true, wantErr: "not a directory"},
		"a missing folder under a regular file": {path: func(dir string) string {
			p := filepath.Join(dir, "regular")
			require.NoError(t, os.WriteFile(p, nil, 0o600))
			return filepath.Join(p, "logs", "audit.jsonl")
		}, root: true, wantErr: "not a directory"},
		"a read-only folder": {path: func(dir string) string {
			p := filepath.Join(dir, "ro")
			require.NoError(t, os.Mkdir(p, 0o500))
			return filepath.Join(p, "audit.jsonl")
		}, wantErr: "permission denied"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if !tc.root && os.Geteuid() == 0 {
				t.Skip("root writes through file modes")
			}
			dir := t.TempDir()
			path := tc.path(dir)
			before := exists(path, filepath.Dir(path))
			checkErr := file.CheckPath(path)
			require.Equal(t, before, exists(path, filepath.Dir(path)), "CheckPath created nothing")
			n, newErr := file.New(&file.Config{Path: path})
			if tc.wantErr == "" {
				require.NoError(t, checkErr)
				require.NoError(t, newErr)
				require.NoError(t, n.Close())
				return
			}
			require.ErrorContains(t, checkErr, tc.wantErr)
			require.ErrorContains(t, checkErr, dir, "the error names the path")
			require.ErrorContains(t, newErr, tc.wantErr)
			require.Nil(t, n)
		})
	}
}

// TestCloseNil: a failed New returns a nil *Notifier, and closing it (cleanup after a partial
// start) is a no-op, not a nil dereference.
func TestCloseNil(t *testing.T) {
	t.Parallel()
	n, err := file.New(&file.Config{Path: t.TempDir()})
	require.ErrorContains(t, err, "is a directory")
	require.NoError(t, n.Close())
}

// exists reports which of paths exist.
func exists(paths ...string) []bool {
	out := make([]bool, len(paths))
	for i, p := range paths {
		_, err := os.Lstat(p)
		out[i] = err == nil
	}
	return out
}
