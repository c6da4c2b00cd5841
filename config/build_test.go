package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
)

// TestBuild_ConstructionErrorsNameTheirKey: a target whose notifier cannot be built fails Build
// with the target's key path and the cause, after closing the notifiers built before it (no
// panic on the half-built runtime); a preflight dry run (validate) reports the same key
// without creating anything. Paths are made unusable without chmod: tests may run as root.
func TestBuild_ConstructionErrorsNameTheirKey(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		src     func(b *bundle) string
		path    string // the KeyError's path
		serve   string // part of the message when notifiers are built
		preview string // part of the message of a preflight dry run (validate)
	}{
		"audit folder is a regular file": {
			src: func(b *bundle) string {
				return auditAt(minimal, filepath.Join(b.write(t, "regular", ""), "audit.jsonl"))
			},
			path: "targets[0].path", serve: "not a directory", preview: "not a directory",
		},
		"audit folder under a regular file": {
			src: func(b *bundle) string {
				return auditAt(minimal, filepath.Join(b.write(t, "regular", ""), "logs", "audit.jsonl"))
			},
			path: "targets[0].path", serve: "not a directory", preview: "not a directory",
		},
		"audit path is a folder, after a target that opened": {
			src: func(b *bundle) string {
				return auditAt(minimal, filepath.Join(b.dir, "ok.jsonl")) + auditTargetAt("second", b.dir)
			},
			path: "targets[1].path", serve: "is a directory", preview: "is a directory",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			src := tc.src(b)
			cfg, err := b.parse(t, src, nil)
			require.NoError(t, err, "Parse and Validate cannot see it")

			rt, err := config.Build(cfg, config.BuildOptions{Version: "test"})
			require.Nil(t, rt)
			requireKeyErrors(t, src, err, wantKey{path: tc.path, msg: tc.serve})

			before := tree(t, b.dir)
			rt, err = config.Build(cfg, config.BuildOptions{Version: "test", DryRun: true, Preflight: true})
			require.Equal(t, before, tree(t, b.dir), "a preflight creates nothing")
			require.Nil(t, rt)
			requireKeyErrors(t, src, err, wantKey{path: tc.path, msg: tc.preview})
		})
	}
}

// TestBuild_PreflightStorage: a preflight dry run checks that the SQLite file can be created.
func TestBuild_PreflightStorage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	regular := b.write(t, "regular", "")
	src := minimal + "storage:\n  dsn: " + filepath.Join(regular, "bridge.db") + "\n"
	cfg, err := b.parse(t, src, nil)
	require.NoError(t, err)
	_, err = config.Build(cfg, config.BuildOptions{DryRun: true})
	require.NoError(t, err, "without Preflight a dry run looks at no file")
	_, err = config.Build(cfg, config.BuildOptions{DryRun: true, Preflight: true})
	requireKeyErrors(t, src, err, wantKey{path: "storage.dsn", at: "dsn:", msg: "not a directory"})
}

// auditAt moves minimal's audit target to path.
func auditAt(src, path string) string {
	return strings.Replace(src, "path: audit.jsonl", "path: "+path, 1)
}

// auditTargetAt is one more file target (appended after audit) writing to path.
func auditTargetAt(name, path string) string {
	return "  - name: " + name + "\n    type: file\n    path: " + path + "\n"
}

// tree lists every path under dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		out = append(out, p)
		return err
	}))
	return out
}

// TestBuild_PublicURLChangesTheFingerprint: a reload that changes server.public_url rebuilds the
// notifiers (the Slack buttons link to it), and one that changes nothing keeps them.
func TestBuild_PublicURLChangesTheFingerprint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fingerprint := func(src string) string {
		t.Helper()
		cfg, err := b.parse(t, src, nil)
		require.NoError(t, err)
		rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
		require.NoError(t, err)
		return rt.Targets[0].Fingerprint
	}
	first := fingerprint(minimal + "server:\n  public_url: https://a.example\n")
	require.Equal(t, first, fingerprint(minimal+"server:\n  public_url: https://a.example\n"))
	require.NotEqual(t, first, fingerprint(minimal+"server:\n  public_url: https://b.example\n"))
}
