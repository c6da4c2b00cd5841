package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startupConfig is a config with a file target (targets[0]), a webhook target whose secret is
// read from a file (targets[1]), an admin API key and the SQLite file, each of which a test
// breaks by replacing one of the keys below.
type startupConfig struct {
	listen, dsn, audit, secretFile, tls string
}

const startupAdminKey = "startup-admin-key-0123456789"

func (s startupConfig) write(t *testing.T, dir string) string {
	t.Helper()
	src := fmt.Sprintf(`
server: {listen: %q%s}
storage: {dsn: %q}
ingest: {secrets: [%q]}
targets:
  - {name: audit, type: file, path: %q}
  - {name: siem, type: webhook, url: "https://siem.example.com/hook", secret_file: %q}
routes:
  - {name: everything, when: "true", targets: [audit]}
api:
  keys: [{account: ops, key: %q, role: admin}]
`, s.listen, s.tls, s.dsn, ingestSecret, s.audit, s.secretFile, startupAdminKey)
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	return path
}

// goodStartup is a startupConfig that serves, in dir.
func goodStartup(t *testing.T, dir string) startupConfig {
	t.Helper()
	secret := filepath.Join(dir, "siem.secret")
	require.NoError(t, os.WriteFile(secret, []byte(targetSecret+"\n"), 0o600))
	return startupConfig{listen: "127.0.0.1:0", dsn: filepath.Join(dir, "bridge.db"), audit: filepath.Join(dir, "audit", "audit.jsonl"), secretFile: secret}
}

// serveBroken runs serve on cfgPath in this goroutine, so a panic fails the test with its
// stack instead of killing the test binary, and returns its error; a serve that starts fails
// the test.
func serveBroken(t *testing.T, cfgPath string, log *bytes.Buffer) (err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("serve panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return serve(ctx, cfgPath, slog.New(slog.NewJSONHandler(log, nil)), func(string) {
		t.Error("serve started on a broken config")
		cancel()
	})
}

// TestStartupErrors: every broken config fails serve with its key path and cause, never a
// panic, and fails validate the same way when it is something validate can know before serve
// runs, so a unit's pre-start check (ExecStartPre=cortex-bridge validate) catches it. Files are
// made unusable without chmod (the tests may run as root): paths under a regular file, folders
// where files are expected.
func TestStartupErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		breakIt  func(t *testing.T, dir string, s *startupConfig)
		serve    []string // parts of serve's error
		validate []string // parts of validate's error; nil: validate passes
	}{
		"audit folder is a regular file": {
			breakIt: func(t *testing.T, dir string, s *startupConfig) {
				s.audit = filepath.Join(regularFile(t, dir), "audit.jsonl")
			},
			serve:    []string{"targets[0].path: mkdir ", "not a directory"},
			validate: []string{"targets[0].path: ", "not a directory"},
		},
		"audit folder cannot be created": {
			breakIt: func(t *testing.T, dir string, s *startupConfig) {
				s.audit = filepath.Join(regularFile(t, dir), "logs", "audit.jsonl")
			},
			serve:    []string{"targets[0].path: mkdir ", "not a directory"},
			validate: []string{"targets[0].path: ", "not a directory"},
		},
		"audit path is a folder": {
			breakIt:  func(_ *testing.T, dir string, s *startupConfig) { s.audit = dir },
			serve:    []string{"targets[0].path: open ", ": is a directory"},
			validate: []string{"targets[0].path: open ", ": is a directory"},
		},
		"secret file missing": {
			breakIt:  func(_ *testing.T, dir string, s *startupConfig) { s.secretFile = filepath.Join(dir, "missing.secret") },
			serve:    []string{"targets[1].secret: reading secret_file: open ", "no such file or directory"},
			validate: []string{"targets[1].secret: reading secret_file: open ", "no such file or directory"},
		},
		"secret file unreadable": {
			breakIt:  func(_ *testing.T, dir string, s *startupConfig) { s.secretFile = dir },
			serve:    []string{"targets[1].secret: reading secret_file: read ", "is a directory"},
			validate: []string{"targets[1].secret: reading secret_file: read ", "is a directory"},
		},
		"TLS certificate not PEM": {
			breakIt: func(t *testing.T, dir string, s *startupConfig) {
				bad := regularFile(t, dir)
				s.tls = fmt.Sprintf(", tls: {cert_file: %q, key_file: %q}", bad, bad)
			},
			serve:    []string{"server.tls.cert_file: cannot load the key pair: tls: "},
			validate: []string{"server.tls.cert_file: cannot load the key pair: tls: "},
		},
		"SQLite folder cannot be created": {
			breakIt: func(t *testing.T, dir string, s *startupConfig) {
				s.dsn = filepath.Join(regularFile(t, dir), "data", "bridge.db")
			},
			serve:    []string{"storage.dsn: mkdir ", "not a directory"},
			validate: []string{"storage.dsn: ", "not a directory"},
		},
		// validate cannot know: while the service runs (a reload, CI on the host) the port is
		// in use by the bridge itself.
		"port in use": {
			breakIt: func(t *testing.T, _ string, s *startupConfig) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				t.Cleanup(func() { _ = ln.Close() })
				s.listen = ln.Addr().String()
			},
			serve: []string{"server.listen: listen tcp ", "address already in use"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := goodStartup(t, dir)
			tc.breakIt(t, dir, &s)
			cfgPath := s.write(t, dir)

			var log bytes.Buffer
			err := serveBroken(t, cfgPath, &log)
			require.Error(t, err)
			for _, want := range tc.serve {
				require.ErrorContains(t, err, want)
			}

			stdout, stderr, err := run(t, "validate", "--config", cfgPath)
			if tc.validate == nil {
				require.NoError(t, err, stderr)
				require.Contains(t, stdout, "is valid")
			} else {
				require.Error(t, err)
				for _, want := range tc.validate {
					require.Contains(t, stderr, want)
				}
			}
			for _, secret := range []string{ingestSecret, targetSecret, startupAdminKey} {
				require.NotContains(t, stdout+stderr+log.String(), secret)
			}
		})
	}
}

// TestReloadKeepsTheRunningConfig: a reload onto a config whose file target cannot be opened
// is refused with the key path and the cause, without a panic, and the bridge goes on with the
// config it had.
func TestReloadKeepsTheRunningConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := goodStartup(t, dir)
	cfgPath := s.write(t, dir)
	var log bytes.Buffer
	b := startBridge(t, cfgPath, &log)

	good := s
	s.audit = filepath.Join(regularFile(t, dir), "audit.jsonl")
	s.write(t, dir)
	req, err := http.NewRequest(http.MethodPost, "http://"+b.addr+"/-/reload", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+startupAdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, body.String())
	require.Contains(t, body.String(), "targets[0].path: mkdir ")
	require.Contains(t, body.String(), "not a directory")

	_, res := sendSample(t, b, "scan.completed", time.Now())
	require.Equal(t, "accepted", res.Status, res.Message)
	require.Eventually(t, func() bool { return countLines(t, good.audit) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the running config's audit target still delivers")
	b.stop()
	require.Contains(t, log.String(), "config reload refused; the running config stays")
	require.NotContains(t, log.String(), startupAdminKey)
}

// regularFile creates a regular file in dir and returns its path.
func regularFile(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "regular-*")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return f.Name()
}
