package main

import (
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTuneGC: serve's collector settings apply unless the environment sets them. Not parallel:
// the settings are the process's (t.Setenv forbids it anyway).
func TestTuneGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })

	tests := []struct {
		name        string
		env         map[string]string // "": unset
		wantPercent int
		wantLimit   bool // a soft memory limit is set
	}{
		{name: "defaults", env: map[string]string{"GOGC": "", "GOMEMLIMIT": "", "AUTOMEMLIMIT": ""}, wantPercent: serveGCPercent, wantLimit: true},
		{name: "GOGC wins", env: map[string]string{"GOGC": "100", "GOMEMLIMIT": "", "AUTOMEMLIMIT": ""}, wantPercent: 100, wantLimit: true},
		{name: "GOMEMLIMIT wins", env: map[string]string{"GOGC": "", "GOMEMLIMIT": "1GiB", "AUTOMEMLIMIT": ""}, wantPercent: serveGCPercent},
		{name: "AUTOMEMLIMIT off", env: map[string]string{"GOGC": "", "GOMEMLIMIT": "", "AUTOMEMLIMIT": "off"}, wantPercent: serveGCPercent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v) // restored after the test, also when unset here
				if v == "" {
					require.NoError(t, os.Unsetenv(k))
				}
			}
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			tuneGC(log)
			require.Equal(t, tt.wantPercent, debug.SetGCPercent(100))
			got := debug.SetMemoryLimit(-1) // reads it
			if tt.wantLimit {
				require.Less(t, got, int64(math.MaxInt64))
				require.Positive(t, got)
			} else {
				require.Equal(t, int64(math.MaxInt64), got)
			}
		})
	}
}
