package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the outcome of a run; --json prints it as is.
type Report struct {
	Date       time.Time `json:"date"`
	Mode       string    `json:"mode"`   // "rate" or "find-max"
	Target     string    `json:"target"` // how the bridge ran
	Storage    string    `json:"storage,omitempty"`
	Events     string    `json:"events,omitempty"` // recorded traffic and how many events it has
	CPUs       int       `json:"cpus,omitempty"`
	LoadAvg    string    `json:"loadavg_start,omitempty"` // /proc/loadavg 1, 5, 15 min at the start
	LoadAvgEnd string    `json:"loadavg_end,omitempty"`
	MaxP99MS   float64   `json:"max_p99_ms,omitempty"` // find-max's ack p99 bound
	Notes      []string  `json:"notes,omitempty"`

	Warmup *Step  `json:"warmup,omitempty"`
	Steps  []Step `json:"steps"`
	// Result is the headline step: the fixed-rate step, or find-max's last good step.
	Result  *Step   `json:"result,omitempty"`
	MaxRate float64 `json:"max_rate,omitempty"` // find-max: the highest good rate, events/s

	Baseline *Report `json:"baseline,omitempty"`
	// Ratio is bridge/baseline: of MaxRate with find-max, of the accepted rate otherwise.
	Ratio float64 `json:"ratio_vs_baseline,omitempty"`

	// Over every step, warm-up included.
	Lost          int64 `json:"lost"`      // accepted, never delivered to the receiver within the drain time
	LostFile      int64 `json:"lost_file"` // accepted, not in the audit file
	Duplicates    int64 `json:"duplicates"`
	BadSignatures int64 `json:"bad_signatures"` // deliveries whose signature did not verify
	Foreign       int64 `json:"foreign"`        // deliveries of events this run did not send

	RSS []RSSSample `json:"rss,omitempty"` // the bridge's RSS over the run (at most ~200 points)
}

// Step is one constant-rate stretch of a run.
type Step struct {
	Name             string            `json:"name"`
	Rate             float64           `json:"rate"` // offered, events/s
	DurationS        float64           `json:"duration_s"`
	WallS            float64           `json:"wall_s"` // sending + answers + drain
	Sent             uint64            `json:"sent"`
	SentPerSec       float64           `json:"sent_per_s"`
	Accepted         uint64            `json:"accepted"`
	AcceptedPerSec   float64           `json:"accepted_per_s"`
	DuplicateAnswers uint64            `json:"duplicate_answers"` // 200 "duplicate": ids are unique, so a fault
	Errors           map[string]uint64 `json:"errors"`            // by HTTP status or transport error
	Ack              Latency           `json:"ack"`               // POST sent → answer read
	E2E              *Latency          `json:"e2e,omitempty"`     // POST sent → delivery at the receiver
	Delivered        int64             `json:"delivered"`         // distinct ids received
	Lost             int64             `json:"lost"`
	LostFile         *int64            `json:"lost_file,omitempty"`
	Duplicates       int64             `json:"duplicates"`
	DrainS           float64           `json:"drain_s"` // last delivery after the last send
	// The bridge process, from /proc: CPU seconds over the step (sending and drain), per 1000
	// accepted events, and RSS.
	BridgeCPUS          float64 `json:"bridge_cpu_s"`
	BridgeCPUPer1kMS    float64 `json:"bridge_cpu_ms_per_1k"`
	GeneratorCPUPer1kMS float64 `json:"generator_cpu_ms_per_1k"`    // this process: generator + receiver
	DBCPUPer1kMS        float64 `json:"db_cpu_ms_per_1k,omitempty"` // the database server's processes (Postgres)
	PeakRSSMB           float64 `json:"peak_rss_mb"`
	RSSStartMB          float64 `json:"rss_start_mb"`
	RSSEndMB            float64 `json:"rss_end_mb"`
	RSSSlopeMBPerMin    float64 `json:"rss_slope_mb_per_min"` // least squares over the step's second half
	// OtherCPUCores is the CPU other processes on the machine used during the step, in cores
	// (from /proc/stat): above ~0.1 the figures are disturbed by a shared machine.
	OtherCPUCores    float64 `json:"other_cpu_cores"`
	OK               bool    `json:"ok"`
	Why              string  `json:"why,omitempty"`
	GeneratorLimited bool    `json:"generator_limited,omitempty"`
}

// Latency summarises a histogram, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func latency(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	usToMS := func(v int64) float64 { return float64(v) / 1000 }
	return Latency{
		Count: h.TotalCount(),
		P50:   usToMS(h.ValueAtQuantile(50)), P90: usToMS(h.ValueAtQuantile(90)),
		P99: usToMS(h.ValueAtQuantile(99)), Max: usToMS(h.Max()), Mean: h.Mean() / 1000,
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// line is a one-line progress summary of a step.
func (s *Step) line() string {
	e2e := "-"
	if s.E2E != nil {
		e2e = fmt.Sprintf("%.1f/%.1f ms", s.E2E.P50, s.E2E.P99)
	}
	status := "ok"
	if !s.OK {
		status = s.Why
	}
	return fmt.Sprintf("%-8s %6.0f ev/s: accepted %.0f/s, ack p50/p99 %.1f/%.1f ms, e2e %s, lost %d, cpu %.0f ms/1k, others %.2f cores — %s",
		s.Name, s.Rate, s.AcceptedPerSec, s.Ack.P50, s.Ack.P99, e2e, s.Lost, s.BridgeCPUPer1kMS, s.OtherCPUCores, status)
}

// WriteText writes the human table.
func (rep *Report) WriteText(w io.Writer) error {
	if rep.Baseline != nil {
		fmt.Fprintf(w, "BASELINE — %s\n", rep.Baseline.Target)
		writeSteps(w, rep.Baseline, false)
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "BRIDGE — %s, storage %s, %s, events: %s, %d CPUs, load %s → %s\n",
		rep.Target, rep.Storage, rep.Date.Format(time.RFC3339), rep.Events, rep.CPUs, rep.LoadAvg, rep.LoadAvgEnd)
	writeSteps(w, rep, true)
	fmt.Fprintln(w)
	if r := rep.Result; r != nil {
		if rep.Mode == "find-max" {
			fmt.Fprintf(w, "max sustained rate: %.0f events/s (ack p99 ≤ %.0f ms, no errors, all delivered)\n", rep.MaxRate, rep.MaxP99MS)
		}
		fmt.Fprintf(w, "result: %.0f events/s accepted; ack p50/p90/p99/max %.1f/%.1f/%.1f/%.1f ms", r.AcceptedPerSec, r.Ack.P50, r.Ack.P90, r.Ack.P99, r.Ack.Max)
		if r.E2E != nil {
			fmt.Fprintf(w, "; end to end %.1f/%.1f/%.1f/%.1f ms", r.E2E.P50, r.E2E.P90, r.E2E.P99, r.E2E.Max)
		}
		fmt.Fprintln(w)
		if r.OtherCPUCores >= 0.1 {
			fmt.Fprintf(w, "machine shared: other processes used %.2f cores on average during the result step\n", r.OtherCPUCores)
		}
		if r.PeakRSSMB > 0 {
			fmt.Fprintf(w, "bridge: %.0f ms CPU per 1000 events; RSS peak %.1f MB (start %.1f, end %.1f, slope %+.2f MB/min)\n",
				r.BridgeCPUPer1kMS, r.PeakRSSMB, r.RSSStartMB, r.RSSEndMB, r.RSSSlopeMBPerMin)
			if r.DBCPUPer1kMS > 0 {
				fmt.Fprintf(w, "database server: %.0f ms CPU per 1000 events\n", r.DBCPUPer1kMS)
			}
		}
	} else if rep.Mode == "find-max" {
		fmt.Fprintln(w, "max sustained rate: none (the first step already failed)")
	}
	if rep.Baseline != nil {
		if rep.Mode == "find-max" {
			fmt.Fprintf(w, "baseline max: %.0f events/s; bridge/baseline: %.0f%%\n", rep.Baseline.MaxRate, 100*rep.Ratio)
		} else if rep.Ratio > 0 {
			fmt.Fprintf(w, "bridge/baseline accepted rate: %.0f%%\n", 100*rep.Ratio)
		}
	}
	fmt.Fprintf(w, "lost: %d (receiver), %d (audit file); duplicates: %d; bad signatures: %d\n",
		rep.Lost, rep.LostFile, rep.Duplicates, rep.BadSignatures)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

func writeSteps(w io.Writer, rep *Report, bridge bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "step\trate\tsent\taccepted/s\terrors\tack p50\tp90\tp99\tmax ms\t"
	if bridge {
		head += "e2e p50\tp90\tp99\tmax ms\tlost\tdup\tcpu ms/1k\tgen ms/1k\trss peak MB\tothers\t"
	}
	fmt.Fprintln(tw, head+"ok\t")
	steps := rep.Steps
	if rep.Warmup != nil {
		steps = append([]Step{*rep.Warmup}, steps...)
	}
	for _, s := range steps {
		row := fmt.Sprintf("%s\t%.0f\t%d\t%.1f\t%s\t%.2f\t%.2f\t%.2f\t%.1f\t", s.Name, s.Rate, s.Sent, s.AcceptedPerSec,
			errorText(s.Errors, s.DuplicateAnswers), s.Ack.P50, s.Ack.P90, s.Ack.P99, s.Ack.Max)
		if bridge {
			if s.E2E != nil {
				row += fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.1f\t%d\t%d\t", s.E2E.P50, s.E2E.P90, s.E2E.P99, s.E2E.Max, s.Lost, s.Duplicates)
			} else {
				row += "-\t-\t-\t-\t-\t-\t"
			}
			row += fmt.Sprintf("%.0f\t%.0f\t%.1f\t%.2f\t", s.BridgeCPUPer1kMS, s.GeneratorCPUPer1kMS, s.PeakRSSMB, s.OtherCPUCores)
		}
		ok := "yes"
		if !s.OK {
			ok = "no: " + s.Why
		}
		fmt.Fprintln(tw, row+ok+"\t")
	}
	_ = tw.Flush()
}

func errorText(errs map[string]uint64, dups uint64) string {
	if len(errs) == 0 && dups == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, errs[k]))
	}
	if dups > 0 {
		parts = append(parts, fmt.Sprintf("dup×%d", dups))
	}
	return strings.Join(parts, ",")
}
