package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func (r *HostileReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a Markdown table, one row per case, for BENCHMARKS.md.
func (r *HostileReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Hostile input, %s, %s, %d CPUs, load %s → %s; ingest.max_body_bytes %d\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Target, r.CPUs, r.LoadAvg, r.LoadAvgEnd, r.MaxBodyBytes)
	fmt.Fprintf(&b, "Target per request: ≤ %.0f ms bridge CPU, ≤ %.0f MB extra RSS, bridge up. Idle bridge: %.1f ms CPU/s (included).\n",
		r.TargetCPUMS, r.TargetRSSMB, r.IdleCPUMSPerS)
	fmt.Fprintf(&b, "Passed %d of %d. ≥: a lower bound (the bench killed the bridge, or it was still busy after %.0fs).\n\n",
		r.Passed, r.Passed+r.Failed, r.Options.CaseTimeoutS)
	b.WriteString("| # | via | input | auth | body | req | answers | CPU ms/req | extra RSS MB | idle after s | up | result |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, c := range r.Cases {
		idle := "busy"
		if c.IdleAfterS >= 0 {
			idle = fmt.Sprintf("%.1f", c.IdleAfterS)
		}
		if c.Killed != "" {
			idle = "killed"
		}
		result := "PASS"
		if !c.Pass {
			result = "FAIL: " + c.Why
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", i+1, c.Via, mdEscape(c.Name), c.Auth,
			humanBytes(c.BodyBytes), c.Requests, statusText(c.Statuses), cpuText(c), rssText(c), idle, yesNo(c.Up), mdEscape(result))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// line is the case's one-line progress summary.
func (c HostileResult) line() string {
	result := "PASS"
	if !c.Pass {
		result = "FAIL (" + c.Why + ")"
	}
	return fmt.Sprintf("%s %s [%s, %s]: %d req %s, %s ms CPU/req, extra RSS %s MB, %d deliveries, %.1fs: %s",
		c.Via, c.Name, c.Auth, humanBytes(c.BodyBytes), c.Requests, statusText(c.Statuses), cpuText(c), rssText(c), c.Deliveries, c.WallS, result)
}

// cpuText and rssText mark a figure as a lower bound when the bridge was killed, or was
// still busy at the case timeout (and then killed): its work was cut short.
func cpuText(c HostileResult) string {
	s := fmt.Sprintf("%.1f", c.CPUMSPerRequest)
	if c.cutShort() {
		s = "≥ " + s
	}
	return s
}

func rssText(c HostileResult) string {
	s := fmt.Sprintf("%.1f", c.ExtraRSSMB)
	if c.cutShort() {
		s = "≥ " + s
	}
	return s
}

func (c HostileResult) cutShort() bool { return c.Killed != "" || c.IdleAfterS < 0 && c.Requests > 0 }

// statusText lists outcomes by count: "401×10 413×2".
func statusText(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
