// Package bench is the bridge's load generator (`cortex-bridge bench`): an open-loop attacker
// (vegeta's, constant arrival rate) posts signed, re-stamped events with unique ids to a bridge,
// a loopback receiver that the bridge's webhook target delivers to measures the end-to-end
// latency and counts every id (loss, duplicates), and /proc gives the bridge's CPU time and
// peak RSS. It runs at a fixed rate, searches for the highest good rate (--find-max), and can
// run the same load against an in-process baseline server (HMAC + parse + 200 only) to report
// the bridge's share of the machine's ceiling.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// Options configure a run. Zero fields take the defaults named on each.
type Options struct {
	// Rate is the fixed arrival rate in events/s (default 1000); Duration how long it is held
	// (default 10s), after Warmup at the same rate (find-max: at StartRate; default 2s;
	// negative: none), whose figures are reported apart.
	Rate     float64
	Duration time.Duration
	Warmup   time.Duration
	// FindMax steps the rate up from StartRate (default 250), ×StepFactor (default 2) per step
	// of StepDuration (default 10s), until a step fails (ack p99 over MaxP99, default 50ms; any
	// error answer; deliveries not all in within max(1s, StepDuration/10) of the step's end) or
	// MaxRate (default 20000) is reached, then bisects Refine times (default 3) between the last
	// good and the first failed rate.
	FindMax      bool
	StartRate    float64
	StepFactor   float64
	StepDuration time.Duration
	MaxP99       time.Duration
	MaxRate      float64
	Refine       int
	// Baseline runs the same load against an in-process server that only verifies the HMAC and
	// parses the event, first, and reports bridge/baseline.
	Baseline bool
	// Drain bounds the wait for deliveries after a step (default 30s); an accepted event not
	// delivered by then is lost.
	Drain time.Duration

	// URL is a running bridge's ingest URL; empty starts one with Launch on a generated config.
	URL string
	// PID is the running bridge's process id (with URL) for CPU and RSS; 0: not measured.
	PID int
	// ReceiverListen is the receiver's address (default 127.0.0.1:0). With URL, the running
	// bridge must have a webhook target at http://<ReceiverListen>/ signed with ReceiverSecret;
	// "off" measures ingest only.
	ReceiverListen string
	// AuditPath is the file target's path to check for loss (with URL; optional).
	AuditPath string
	// NoAudit leaves the file target out of the generated config: the webhook target only.
	NoAudit bool
	// Secret is the ingest secret (default "bench-ingest-secret"); ReceiverSecret the webhook
	// target's (default "bench-receiver-secret").
	Secret         string
	ReceiverSecret string
	// Storage is storage.driver of the generated config: sqlite (default) or postgres, with DSN
	// (default: a SQLite file in Dir).
	Storage string
	DSN     string
	// Replicas is how many bridges Launch starts on the generated config (default 1; more
	// need Storage postgres, as replicas share one database). Events are posted to them in
	// turn; the bridge CPU reported is the sum over the replicas, the peak RSS the highest
	// replica's, and the RSS samples are the first replica's.
	Replicas int
	// Launch starts the bridge on the generated config (required without URL).
	Launch LaunchFunc
	// LaunchName says how the bridge runs, for the report ("child", "in-process").
	LaunchName string
	// Dir holds the generated config, database, audit file and bridge log; default a temporary
	// folder removed at the end.
	Dir string
	// EventsFile is the recorded traffic (a .jsonl file or one event); empty: the six embedded
	// samples.
	EventsFile string
	// DBProcess is the command name of the database server's processes ("postgres") whose CPU
	// time is reported per 1000 events apart from the bridge's; empty: none.
	DBProcess string
	// RSSInterval is how often the bridge's RSS is sampled (default 1s).
	RSSInterval time.Duration
	// Progress, when set, gets one line per finished step.
	Progress io.Writer
}

func (o *Options) withDefaults() {
	def := func(p *float64, v float64) {
		if *p <= 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.Rate, 1000)
	defD(&o.Duration, 10*time.Second)
	defD(&o.Warmup, 2*time.Second)
	def(&o.StartRate, 250)
	if o.StepFactor <= 1 {
		o.StepFactor = 2
	}
	defD(&o.StepDuration, 10*time.Second)
	defD(&o.MaxP99, 50*time.Millisecond)
	def(&o.MaxRate, 20000)
	if o.Refine < 0 {
		o.Refine = 0
	} else if o.Refine == 0 {
		o.Refine = 3
	}
	defD(&o.Drain, 30*time.Second)
	defD(&o.RSSInterval, time.Second)
	if o.ReceiverListen == "" {
		o.ReceiverListen = "127.0.0.1:0"
	}
	if o.Secret == "" {
		o.Secret = "bench-ingest-secret"
	}
	if o.ReceiverSecret == "" {
		o.ReceiverSecret = "bench-receiver-secret"
	}
	if o.Storage == "" {
		o.Storage = "sqlite"
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// ErrPostgresPending is returned when the bridge's config does not accept storage.driver:
// postgres yet.
var ErrPostgresPending = errors.New("storage.driver postgres is not accepted by this version's config yet: Postgres figures are pending")

// Run runs the bench and returns its report. The report is returned with an error too when the
// bench ran but the bridge could not be stopped cleanly.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.withDefaults()
	bodies, err := LoadEvents(o.EventsFile)
	if err != nil {
		return nil, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	src, err := NewSource(bodies, "bench-"+hex.EncodeToString(rnd[:])+"-")
	if err != nil {
		return nil, err
	}
	events := "embedded samples"
	if o.EventsFile != "" {
		events = o.EventsFile
	}
	mode := "rate"
	if o.FindMax {
		mode = "find-max"
	}
	rep := &Report{
		Date: time.Now().UTC().Truncate(time.Second), Mode: mode, Storage: o.Storage,
		Events: fmt.Sprintf("%s (%d)", events, src.Len()), CPUs: runtime.NumCPU(), LoadAvg: loadAvg(),
		MaxP99MS: ms(o.MaxP99),
	}
	next := &atomic.Uint64{}
	client := newClient()
	defer client.CloseIdleConnections()

	if o.Baseline {
		url, stop, err := startBaseline(o.Secret)
		if err != nil {
			return nil, err
		}
		r := &runner{o: o, src: src, next: next, client: client, urls: []string{url}, pid: os.Getpid()}
		rep.Baseline = &Report{Mode: mode, Target: "baseline (in-process: HMAC + parse + 200)", MaxP99MS: rep.MaxP99MS}
		fmt.Fprintln(o.Progress, "baseline:")
		r.run(ctx, rep.Baseline)
		stop()
		client.CloseIdleConnections()
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}

	r := &runner{o: o, src: src, next: next, client: client}
	var stopBridge func() error
	if o.URL != "" {
		r.urls, r.pid = []string{o.URL}, o.PID
		rep.Target = "running bridge at " + o.URL
		if o.AuditPath != "" {
			r.audit = newAuditTail(o.AuditPath, src.Prefix())
		}
	} else {
		if o.Launch == nil {
			return nil, errors.New("bench: no bridge URL and no way to launch one")
		}
		dir := o.Dir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "cortex-bridge-bench-"); err != nil {
				return nil, err
			}
			defer os.RemoveAll(dir)
		} else if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		rep.Target = o.LaunchName
		if !o.NoAudit {
			r.audit = newAuditTail(filepath.Join(dir, "audit.jsonl"), src.Prefix())
		} else {
			rep.Notes = append(rep.Notes, "--no-audit: the webhook target only; no audit file to check (its loss count is 0 by definition)")
		}
		stopBridge, err = r.launch(ctx, dir)
		if err != nil {
			if r.rcStop != nil {
				r.rcStop()
			}
			return nil, err
		}
		if len(r.others) > 0 {
			rep.Target += fmt.Sprintf(" ×%d (pids %d %s)", 1+len(r.others), r.pid, strings.Trim(fmt.Sprint(r.others), "[]"))
		} else {
			rep.Target += fmt.Sprintf(" (pid %d)", r.pid)
		}
	}
	if r.rc == nil && o.ReceiverListen != "off" {
		if err := r.listen(o.ReceiverListen); err != nil {
			return nil, err
		}
	}
	if r.rcStop != nil {
		defer r.rcStop()
	}
	if r.pid > 0 {
		r.rss = startRSSMonitor(r.pid, o.RSSInterval)
	}
	r.run(ctx, rep)
	if r.rss != nil {
		r.rss.close()
		rep.RSS, _ = r.rss.since(r.rss.start)
		rep.RSS = downsample(rep.RSS, 200)
	}
	if r.rc != nil {
		rep.BadSignatures, rep.Foreign = r.rc.badSig.Load(), r.rc.foreign.Load()
	}
	if rep.Baseline != nil && rep.Baseline.Result != nil && rep.Result != nil && rep.Baseline.Result.AcceptedPerSec > 0 {
		if o.FindMax {
			rep.Ratio = rep.MaxRate / rep.Baseline.MaxRate
		} else {
			rep.Ratio = rep.Result.AcceptedPerSec / rep.Baseline.Result.AcceptedPerSec
		}
	}
	rep.LoadAvgEnd = loadAvg()
	if stopBridge != nil {
		if err := stopBridge(); err != nil {
			return rep, fmt.Errorf("stopping the bridge: %w", err)
		}
	}
	return rep, ctx.Err()
}

// launch writes the config, starts the receiver and the bridge; it returns the bridge's Stop.
func (r *runner) launch(ctx context.Context, dir string) (func() error, error) {
	if err := r.listen(r.o.ReceiverListen); err != nil {
		return nil, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	dsn := r.o.DSN
	if dsn == "" {
		if r.o.Storage != "sqlite" {
			return nil, fmt.Errorf("--dsn is required for storage %s", r.o.Storage)
		}
		dsn = filepath.Join(dir, "bridge.db")
	}
	if r.o.Replicas > 1 && r.o.Storage != "postgres" {
		return nil, fmt.Errorf("--replicas %d needs --storage postgres: replicas share one database", r.o.Replicas)
	}
	var stops []func() error
	stopAll := func() error {
		var errs []error
		for _, stop := range stops {
			errs = append(errs, stop())
		}
		return errors.Join(errs...)
	}
	for i := range r.o.Replicas {
		cdir := dir
		if i > 0 { // each replica's config and log in its own folder; one audit file for all
			cdir = filepath.Join(dir, fmt.Sprintf("replica-%d", i+1))
			if err := os.MkdirAll(cdir, 0o750); err != nil {
				return nil, errors.Join(err, stopAll())
			}
			if addr, err = FreeAddr(); err != nil {
				return nil, errors.Join(err, stopAll())
			}
		}
		audit := filepath.Join(dir, "audit.jsonl")
		if r.o.NoAudit {
			audit = ""
		}
		cfgPath, err := WriteConfig(cdir, BridgeConfig{
			Listen: addr, Driver: r.o.Storage, DSN: dsn, IngestSecret: r.o.Secret,
			ReceiverURL: "http://" + r.rcAddr + "/", TargetSecret: r.o.ReceiverSecret,
			AuditPath: audit,
		})
		if err != nil {
			return nil, errors.Join(err, stopAll())
		}
		br, err := r.o.Launch(ctx, cfgPath, addr)
		if err != nil {
			if r.o.Storage == "postgres" && pendingPostgres(err) {
				err = fmt.Errorf("%w\n%v", ErrPostgresPending, err)
			}
			return nil, errors.Join(err, stopAll())
		}
		stops = append(stops, br.Stop)
		r.urls = append(r.urls, "http://"+br.Addr+IngestPath)
		if i == 0 {
			r.pid = br.PID
			r.inProcess = br.PID == os.Getpid()
		} else {
			r.others = append(r.others, br.PID)
		}
	}
	return stopAll, nil
}

// listen starts the receiver.
func (r *runner) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	r.rc = NewReceiver(r.o.ReceiverSecret, r.src.Prefix())
	r.rcAddr = ln.Addr().String()
	srv := &http.Server{Handler: r.rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	r.rcStop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	fmt.Fprintf(r.o.Progress, "receiver on http://%s/\n", r.rcAddr)
	return nil
}

// runner runs steps against one server.
type runner struct {
	o         Options
	src       *Source
	next      *atomic.Uint64
	client    *http.Client
	urls      []string // the ingest URL; with replicas, every replica's, posted to in turn
	pid       int      // 0: CPU and RSS not measured
	others    []int    // the other replicas' process ids
	inProcess bool
	rc        *Receiver // nil: deliveries not measured (baseline, or receiver off)
	rcAddr    string
	rcStop    func()
	audit     *auditTail // nil: the file target is not checked
	rss       *rssMonitor

	accepted int64 // accepted events over all steps so far (the audit file counts them all)
}

// run runs the mode's steps and fills rep.
func (r *runner) run(ctx context.Context, rep *Report) {
	if r.inProcess {
		rep.Notes = append(rep.Notes, "bridge in-process: its CPU and RSS include the generator and the receiver")
	}
	if r.o.Warmup > 0 {
		rate := r.o.Rate
		if r.o.FindMax {
			rate = r.o.StartRate
		}
		w := r.step(ctx, "warmup", rate, r.o.Warmup)
		rep.Warmup = &w
		r.sum(rep, &w)
	}
	if ctx.Err() != nil {
		return
	}
	if !r.o.FindMax {
		s := r.step(ctx, "rate", r.o.Rate, r.o.Duration)
		r.sum(rep, &s)
		rep.Steps = append(rep.Steps, s)
		rep.Result = &rep.Steps[len(rep.Steps)-1]
		return
	}
	var good, bad float64
	var best *Step
	try := func(rate float64) bool {
		s := r.step(ctx, fmt.Sprintf("step %d", len(rep.Steps)+1), rate, r.o.StepDuration)
		r.sum(rep, &s)
		rep.Steps = append(rep.Steps, s)
		if s.OK {
			good, best = rate, &s
		} else {
			bad = rate
		}
		return s.OK
	}
	for rate := r.o.StartRate; ctx.Err() == nil; rate = math.Min(rate*r.o.StepFactor, r.o.MaxRate) {
		if !try(rate) || rate >= r.o.MaxRate {
			break
		}
	}
	if rep.Steps[len(rep.Steps)-1].GeneratorLimited {
		bad = 0 // the generator, not the server, stopped the search: nothing to bisect
		rep.Notes = append(rep.Notes, "the search stopped because the generator could not hold the rate: the figure is a lower bound")
	}
	for i := 0; i < r.o.Refine && bad > 0 && ctx.Err() == nil; i++ {
		mid := math.Round((good+bad)/2/10) * 10
		if mid <= good || mid >= bad {
			break
		}
		try(mid)
	}
	if best != nil {
		for i := range rep.Steps {
			if rep.Steps[i].Rate == best.Rate && rep.Steps[i].OK {
				rep.Result = &rep.Steps[i]
			}
		}
		rep.MaxRate = best.Rate
	}
}

// sum adds a step's losses to the run's.
func (r *runner) sum(rep *Report, s *Step) {
	rep.Lost += s.Lost
	if s.LostFile != nil {
		rep.LostFile += *s.LostFile
	}
	rep.Duplicates += s.Duplicates
	fmt.Fprintln(r.o.Progress, "  "+s.line())
}

// step sends rate events/s for du, waits for the deliveries and measures.
func (r *runner) step(ctx context.Context, name string, rate float64, du time.Duration) Step {
	s := Step{Name: name, Rate: rate, DurationS: du.Seconds(), Errors: map[string]uint64{}}
	ri := -1
	if r.rc != nil {
		ri = r.rc.beginStep(r.next.Load())
	}
	var before procSample
	if r.pid > 0 {
		_ = resetPeak(r.pid)
		before, _ = readProc(r.pid)
	}
	othersBefore := make([]procSample, len(r.others))
	for i, pid := range r.others {
		_ = resetPeak(pid)
		othersBefore[i], _ = readProc(pid)
	}
	var dbBefore time.Duration
	if r.o.DBProcess != "" {
		dbBefore = processesCPU(r.o.DBProcess)
	}
	selfBefore, machineBefore := selfCPU(), machineCPU()
	start := time.Now()

	ar := attack(ctx, r.client, r.urls, r.o.Secret, r.src, r.next, rate, du)
	end := time.Now()
	s.Sent, s.Accepted, s.DuplicateAnswers, s.Errors = ar.sent, ar.accepted, ar.duplicate, ar.errors
	s.Ack = latency(ar.ack)
	if ar.sent > 1 && ar.last.After(ar.first) {
		s.AcceptedPerSec = float64(ar.accepted) / end.Sub(start).Seconds()
		s.SentPerSec = float64(ar.sent) / du.Seconds()
	}
	r.accepted += int64(ar.accepted)

	if r.rc != nil {
		deadline := end.Add(r.o.Drain)
		for {
			distinct := r.rc.delivered(ri)
			fileDone := true
			if r.audit != nil {
				_ = r.audit.poll()
				fileDone = r.audit.distinct() >= r.accepted
			}
			if (distinct >= int64(ar.accepted) && fileDone) || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		e2e, distinct, dups, last := r.rc.stepStats(ri)
		l := latency(e2e)
		s.E2E = &l
		s.Delivered, s.Duplicates = distinct, dups
		s.Lost = r.rc.missing(ar.acceptedSeqs)
		if last.After(end) {
			s.DrainS = last.Sub(end).Seconds()
		}
		if r.audit != nil {
			_ = r.audit.poll()
			n := r.audit.missing(ar.acceptedSeqs)
			s.LostFile = &n
		}
	}
	finish := time.Now()
	if r.pid > 0 {
		if after, err := readProc(r.pid); err == nil {
			s.BridgeCPUS = (after.cpu - before.cpu).Seconds()
			for i, pid := range r.others {
				if a, err := readProc(pid); err == nil {
					s.BridgeCPUS += (a.cpu - othersBefore[i].cpu).Seconds()
					after.hwm = max(after.hwm, a.hwm)
				}
			}
			if ar.accepted > 0 {
				s.BridgeCPUPer1kMS = s.BridgeCPUS * 1000 / float64(ar.accepted) * 1000
			}
			peak := after.hwm
			if r.rss != nil {
				samples, sampled := r.rss.since(start)
				peak = max(peak, sampled)
				if len(samples) > 0 {
					s.RSSStartMB, s.RSSEndMB = samples[0].RSSMB, samples[len(samples)-1].RSSMB
					s.RSSSlopeMBPerMin = slope(samples[len(samples)/2:])
				}
			}
			s.PeakRSSMB = mb(peak)
		}
	}
	self := selfCPU() - selfBefore
	var db time.Duration
	if r.o.DBProcess != "" {
		db = processesCPU(r.o.DBProcess) - dbBefore
		if ar.accepted > 0 {
			s.DBCPUPer1kMS = db.Seconds() * 1000 / float64(ar.accepted) * 1000
		}
	}
	if ar.sent > 0 {
		s.GeneratorCPUPer1kMS = self.Seconds() * 1000 / float64(ar.sent) * 1000
	}
	s.WallS = finish.Sub(start).Seconds()
	if m := machineCPU() - machineBefore; m > 0 && s.WallS > 0 {
		other := m.Seconds() - self.Seconds() - db.Seconds()
		if !r.inProcess && r.pid != os.Getpid() {
			other -= s.BridgeCPUS
		}
		s.OtherCPUCores = max(0, other/s.WallS)
	}
	r.judge(&s, ar)
	return s
}

// judge decides whether a step held its rate: no error answers, ack p99 within MaxP99, every
// accepted event delivered (when measured) within max(1s, a tenth of the step) of its end, and
// the generator sent at the rate asked.
func (r *runner) judge(s *Step, ar *attackResult) {
	var why []string
	var errs uint64
	for _, n := range s.Errors {
		errs += n
	}
	if errs > 0 || s.DuplicateAnswers > 0 {
		why = append(why, fmt.Sprintf("%d error answers", errs+s.DuplicateAnswers))
	}
	if s.Ack.P99 > ms(r.o.MaxP99) {
		why = append(why, fmt.Sprintf("ack p99 %.1f ms > %.0f ms", s.Ack.P99, ms(r.o.MaxP99)))
	}
	if s.Lost > 0 || (s.LostFile != nil && *s.LostFile > 0) {
		why = append(why, "deliveries missing after the drain")
	} else if s.E2E != nil && s.DrainS > max(1, s.DurationS/10) {
		why = append(why, fmt.Sprintf("deliveries finished %.1fs after the step", s.DrainS))
	}
	if ar.sent > 0 {
		span := ar.lastStart().Sub(ar.first).Seconds()
		if want := s.Rate * s.DurationS; float64(ar.sent) < 0.95*want || (span > 0 && float64(ar.sent)/span < 0.95*s.Rate && s.Rate*span > 20) {
			s.GeneratorLimited = true
			why = append(why, "generator could not hold the rate")
		}
	}
	s.OK = len(why) == 0
	s.Why = strings.Join(why, "; ")
}

// slope fits RSS against time (least squares) and returns MB per minute.
func slope(samples []RSSSample) float64 {
	n := float64(len(samples))
	if n < 3 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, s := range samples {
		sx += s.AtSeconds
		sy += s.RSSMB
		sxx += s.AtSeconds * s.AtSeconds
		sxy += s.AtSeconds * s.RSSMB
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d * 60
}

func downsample(s []RSSSample, n int) []RSSSample {
	if len(s) <= n {
		return s
	}
	out := make([]RSSSample, 0, n+1)
	for i := 0; i < n; i++ {
		out = append(out, s[i*len(s)/n])
	}
	return append(out, s[len(s)-1])
}

// loadAvg reads the 1- and 5-minute load averages, to show how busy the machine was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
