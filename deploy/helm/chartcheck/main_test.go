package chartcheck_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps Helm's INFO lines (one per render: "found symbolic link in path", for
// files/config.yaml, which links to the repository's config.yaml) out of the test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}
