package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// serveGCPercent is serve's GOGC unless the GOGC environment variable sets one: the heap may
// grow to 5× what is live between collections instead of Go's 2×. At 1 000 events/s that took
// 3–10 % off the bridge's CPU for 20 MB more RSS (50 → 70 MB; BENCHMARKS.md, "The garbage
// collector's share").
const serveGCPercent = 400

// tuneGC sets serve's garbage collector: serveGCPercent, and a soft memory limit (GOMEMLIMIT) of
// 90 % of the memory the process may use (its cgroup's limit in a container, else the
// machine's), so that a heap allowed to grow 5× collects harder before it meets that limit
// instead of being killed. GOGC, GOMEMLIMIT and AUTOMEMLIMIT (automemlimit's ratio, or "off")
// set in the environment win.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	_, _ = memlimit.SetGoMemLimitWithOpts(
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
		memlimit.WithLogger(log),
	)
}
