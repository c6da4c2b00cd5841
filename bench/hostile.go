package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cortexbridge/cortex-bridge/signature"
)

// The target of issue 16 for one hostile request: at most this much CPU and extra RSS.
const (
	// HostileTargetCPUMS is the bridge CPU time one hostile request may cost, in milliseconds.
	HostileTargetCPUMS = 50
	// HostileTargetRSSMB is how far one hostile case may raise the bridge's RSS above what it
	// was before the case, in MiB.
	HostileTargetRSSMB = 32
)

// HostileOptions configure `cortex-bridge bench --hostile`. Zero fields take the defaults
// named on each.
type HostileOptions struct {
	// Launch starts a bridge on a generated config (required): a separate process, since a
	// case may make it run out of memory. A fresh bridge, with a fresh SQLite database, runs
	// each case, so no case inherits another's heap, queue or lockouts.
	Launch     LaunchFunc
	LaunchName string
	// Dir holds one folder per case (config, database, audit file, bridge log); default a
	// temporary folder, removed at the end.
	Dir string
	// MaxBodyBytes is ingest.max_body_bytes of the generated config, in bytes (default
	// 1048576, the shipped value); the bodies are the largest of their class within it.
	MaxBodyBytes int
	// Secret is the ingest secret (default "bench-ingest-secret"); APIKey the api.keys entry
	// the dashboard and API cases use (default "bench-hostile-api-key-0123456789").
	Secret string
	APIKey string
	// Cases keeps only the cases whose name, via or auth contains one of these substrings
	// (case-insensitive); empty: all.
	Cases []string
	// CaseTimeout bounds one case from its first request to the bridge being idle again
	// (default 60s); a bridge still busy then is killed and the case fails.
	CaseTimeout time.Duration
	// StopAfterCPU stops sending a case's requests once the bridge used this much CPU in the
	// case (default 2s, 40 times the target): more would only confirm the failure.
	StopAfterCPU time.Duration
	// KillCPU and KillRSS make the bench kill the bridge (SIGKILL) during a case that used
	// more CPU (default 30s) or grew its RSS by more than this many bytes (default 1 GiB), to
	// keep a shared machine usable; the case fails, the figures are then lower bounds.
	KillCPU time.Duration
	KillRSS int64
	// Sample is how often the bridge's RSS and CPU are read during a case (default 10ms).
	Sample time.Duration
	// Progress, when set, gets one line per case.
	Progress io.Writer
}

func (o *HostileOptions) withDefaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Secret == "" {
		o.Secret = "bench-ingest-secret"
	}
	if o.APIKey == "" {
		o.APIKey = "bench-hostile-api-key-0123456789"
	}
	if o.CaseTimeout <= 0 {
		o.CaseTimeout = time.Minute
	}
	if o.StopAfterCPU <= 0 {
		o.StopAfterCPU = 2 * time.Second
	}
	if o.KillCPU <= 0 {
		o.KillCPU = 30 * time.Second
	}
	if o.KillRSS <= 0 {
		o.KillRSS = 1 << 30
	}
	if o.Sample <= 0 {
		o.Sample = 10 * time.Millisecond
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// HostileReport is the outcome of a hostile-input run; --json prints it as is.
type HostileReport struct {
	Date         time.Time `json:"date"`                    // start, UTC
	Target       string    `json:"target"`                  // how the bridge ran
	CPUs         int       `json:"cpus"`                    // runtime.NumCPU of the machine
	LoadAvg      string    `json:"loadavg_start,omitempty"` // /proc/loadavg 1, 5, 15 min at the start
	LoadAvgEnd   string    `json:"loadavg_end,omitempty"`
	MaxBodyBytes int       `json:"max_body_bytes"`            // ingest.max_body_bytes of the generated config
	TargetCPUMS  float64   `json:"target_cpu_ms_per_request"` // HostileTargetCPUMS
	TargetRSSMB  float64   `json:"target_extra_rss_mb"`       // HostileTargetRSSMB
	// IdleCPUMSPerS is what the first bridge used while idle, in CPU ms per second: included
	// (not subtracted) in every case's CPU for the case's wall time.
	IdleCPUMSPerS float64          `json:"idle_cpu_ms_per_s"`
	Cases         []HostileResult  `json:"cases"`
	Passed        int              `json:"passed"` // cases that met the target
	Failed        int              `json:"failed"`
	Notes         []string         `json:"notes,omitempty"`
	Options       hostileOptsShown `json:"options"` // the bounds the run used
}

// hostileOptsShown are a run's bounds as the report shows them, in seconds, MiB and ms.
type hostileOptsShown struct {
	CaseTimeoutS  float64 `json:"case_timeout_s"`
	StopAfterCPUS float64 `json:"stop_after_cpu_s"`
	KillCPUS      float64 `json:"kill_cpu_s"`
	KillRSSMB     float64 `json:"kill_rss_mb"`
	SampleMS      float64 `json:"sample_ms"`
}

// HostileResult is one case's measurement.
type HostileResult struct {
	Name      string         `json:"name"`
	Via       string         `json:"via"`  // ingest, dashboard, api
	Auth      string         `json:"auth"` // signed, bad signature, unsigned, account, anonymous
	BodyBytes int            `json:"body_bytes"`
	Requests  int            `json:"requests"`
	Statuses  map[string]int `json:"statuses"` // by HTTP status or transport error ("reset", "timeout")
	// CPUMS is the bridge's user + system CPU time from the first request until it was idle
	// again (or killed), in ms; CPUMSPerRequest is that over Requests.
	CPUMS           float64 `json:"cpu_ms"`
	CPUMSPerRequest float64 `json:"cpu_ms_per_request"`
	// BaseRSSMB is the bridge's RSS before the case; PeakRSSMB the highest seen during it
	// (VmHWM after a reset, and VmRSS sampled every Sample); ExtraRSSMB the difference.
	BaseRSSMB  float64 `json:"base_rss_mb"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	ExtraRSSMB float64 `json:"extra_rss_mb"`
	// Deliveries is how many messages the bridge sent to the loopback receiver in the case.
	Deliveries int64   `json:"deliveries"`
	WallS      float64 `json:"wall_s"`
	// IdleAfterS is how long the bridge stayed busy after the last answer (a settle time of
	// 1.5s included); -1: still busy at the case timeout.
	IdleAfterS float64 `json:"idle_after_s"`
	// FirstAnswer is the start of the case's first answer body (200 bytes at most, text only),
	// to see which check refused the input.
	FirstAnswer string `json:"first_answer,omitempty"`
	Killed      string `json:"killed,omitempty"` // why the bench killed the bridge
	Up          bool   `json:"up"`               // GET /healthz answered 200 after the case
	Pass        bool   `json:"pass"`
	Why         string `json:"why,omitempty"`
}

// settle is how long a case waits after its last answer before it looks for an idle bridge:
// the generated config's group window (1s) closes within it.
const settle = 1500 * time.Millisecond

// Hostile runs every hostile case against a fresh bridge each and returns the report.
func Hostile(ctx context.Context, o HostileOptions) (*HostileReport, error) {
	o.withDefaults()
	if o.Launch == nil {
		return nil, errors.New("bench --hostile: no way to launch a bridge")
	}
	root := o.Dir
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "cortex-bridge-hostile-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(root)
	}
	rc := &hostileReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	cases := selectCases(hostileCases(o.MaxBodyBytes), o.Cases)
	if len(cases) == 0 {
		return nil, fmt.Errorf("--cases %q matches no case", strings.Join(o.Cases, ","))
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	h := &hostileRun{o: o, root: root, rc: rc, rcURL: "http://" + ln.Addr().String() + "/", runID: hex.EncodeToString(rnd[:])}
	rep := &HostileReport{
		Date: time.Now().UTC().Truncate(time.Second), Target: o.LaunchName, CPUs: runtime.NumCPU(), LoadAvg: loadAvg(),
		MaxBodyBytes: o.MaxBodyBytes, TargetCPUMS: HostileTargetCPUMS, TargetRSSMB: HostileTargetRSSMB,
		Options: hostileOptsShown{CaseTimeoutS: o.CaseTimeout.Seconds(), StopAfterCPUS: o.StopAfterCPU.Seconds(),
			KillCPUS: o.KillCPU.Seconds(), KillRSSMB: mb(o.KillRSS), SampleMS: float64(o.Sample) / float64(time.Millisecond)},
	}
	for i, c := range cases {
		if ctx.Err() != nil {
			break
		}
		r := h.runCase(ctx, i, c, rep)
		rep.Cases = append(rep.Cases, r)
		if r.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
		fmt.Fprintf(o.Progress, "%2d/%d %s\n", i+1, len(cases), r.line())
	}
	rep.LoadAvgEnd = loadAvg()
	return rep, ctx.Err()
}

// selectCases keeps the cases matching one of the filters.
func selectCases(cs []*hostileCase, filters []string) []*hostileCase {
	if len(filters) == 0 {
		return cs
	}
	var out []*hostileCase
	for _, c := range cs {
		text := strings.ToLower(c.name + " " + c.via + " " + c.auth)
		for _, f := range filters {
			if f = strings.ToLower(strings.TrimSpace(f)); f != "" && strings.Contains(text, f) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

type hostileRun struct {
	o     HostileOptions
	root  string
	rc    *hostileReceiver
	rcURL string
	runID string
}

// runCase starts a fresh bridge, prepares the case, measures it and stops the bridge.
func (h *hostileRun) runCase(ctx context.Context, i int, c *hostileCase, rep *HostileReport) HostileResult {
	res := HostileResult{Name: c.name, Via: c.via, Auth: c.auth, BodyBytes: c.size, Statuses: map[string]int{}, IdleAfterS: -1}
	dir := filepath.Join(h.root, fmt.Sprintf("case-%02d", i+1))
	fail := func(why string) HostileResult {
		res.Why = why
		return res
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fail(err.Error())
	}
	addr, err := FreeAddr()
	if err != nil {
		return fail(err.Error())
	}
	cfgPath, err := WriteHostileConfig(dir, HostileConfig{Listen: addr, IngestSecret: h.o.Secret, APIKey: h.o.APIKey,
		ReceiverURL: h.rcURL, MaxBodyBytes: h.o.MaxBodyBytes})
	if err != nil {
		return fail(err.Error())
	}
	br, err := h.o.Launch(ctx, cfgPath, addr)
	if err != nil {
		return fail("the bridge did not start: " + err.Error())
	}
	pid := br.PID
	killed := false
	defer func() {
		if killed || res.IdleAfterS < 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL) // a bridge still busy would make SIGTERM wait
		}
		_ = br.Stop()
	}()
	jar, _ := cookiejar.New(nil)
	t := &hostileTarget{base: "http://" + addr, addr: addr, secret: h.o.Secret, apiKey: h.o.APIKey, runID: h.runID + "-" + strconv.Itoa(i+1),
		receiverURL: h.rcURL, statuses: res.Statuses, over: func() bool { return false },
		client: &http.Client{Jar: jar, Timeout: h.o.CaseTimeout,
			Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	defer t.client.CloseIdleConnections()
	if c.setup != nil {
		if err := c.setup(ctx, t); err != nil {
			return fail("setup: " + err.Error())
		}
	}
	idleCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	ok := waitIdle(idleCtx, pid, 0)
	cancel()
	if !ok {
		return fail("the bridge was not idle before the case")
	}
	if rep.IdleCPUMSPerS == 0 { // once, over 2s: what every case's CPU includes per second
		a, _ := readProc(pid)
		time.Sleep(2 * time.Second)
		b, _ := readProc(pid)
		rep.IdleCPUMSPerS = max(0.001, float64(b.cpu-a.cpu)/float64(time.Millisecond)/2)
	}

	_ = resetPeak(pid)
	before, err := readProc(pid)
	if err != nil {
		return fail(err.Error())
	}
	deliveries := h.rc.n.Load()
	wd := watch(pid, before, h.o.KillCPU, h.o.KillRSS, h.o.Sample)
	t.over = func() bool { return wd.cpuUsed() > h.o.StopAfterCPU || wd.reason() != "" }
	cctx, cancelCase := context.WithTimeout(ctx, h.o.CaseTimeout)
	defer cancelCase()
	start := time.Now()
	c.send(cctx, t, c)
	answered := time.Now()
	if wd.reason() == "" {
		if waitIdle(cctx, pid, settle) {
			res.IdleAfterS = time.Since(answered).Seconds()
		}
	}
	res.WallS = time.Since(start).Seconds()
	last := wd.close()
	after, err := readProc(pid)
	if err != nil || after.rss == 0 { // gone: the last sample stands
		after = last
	}
	res.Killed = wd.reason()
	killed = res.Killed != ""
	res.Requests, res.FirstAnswer = t.requests, t.first
	if res.BodyBytes == 0 {
		res.BodyBytes = t.size
	}
	res.CPUMS = float64(after.cpu-before.cpu) / float64(time.Millisecond)
	if res.Requests > 0 {
		res.CPUMSPerRequest = res.CPUMS / float64(res.Requests)
	}
	peak := max(wd.peakRSS(), after.hwm, after.rss)
	res.BaseRSSMB, res.PeakRSSMB = mb(before.rss), mb(peak)
	res.ExtraRSSMB = max(0, mb(peak-before.rss))
	res.Deliveries = h.rc.n.Load() - deliveries
	res.Up = !killed && healthy(t.base)
	h.judge(&res)
	return res
}

// judge decides whether a case met the target.
func (h *hostileRun) judge(r *HostileResult) {
	var why []string
	if r.Killed != "" {
		why = append(why, "killed by the bench: "+r.Killed)
	}
	if !r.Up && r.Killed == "" {
		why = append(why, "the bridge went down")
	}
	if r.Killed == "" && r.IdleAfterS < 0 {
		why = append(why, fmt.Sprintf("still busy %.0fs after the first request", h.o.CaseTimeout.Seconds()))
	}
	if r.Requests == 0 {
		why = append(why, "no request was sent")
	}
	if r.CPUMSPerRequest > HostileTargetCPUMS {
		why = append(why, fmt.Sprintf("%.0f ms CPU per request > %d", r.CPUMSPerRequest, HostileTargetCPUMS))
	}
	if r.ExtraRSSMB > HostileTargetRSSMB {
		why = append(why, fmt.Sprintf("+%.0f MB RSS > %d", r.ExtraRSSMB, HostileTargetRSSMB))
	}
	r.Pass = len(why) == 0
	r.Why = strings.Join(why, "; ")
}

// healthy reports whether GET /healthz answers 200 within 5s.
func healthy(base string) bool {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// idleWindow is the span over which the bridge's CPU time must not grow by more than one
// clock tick (10ms), twice in a row, for it to count as idle.
const idleWindow = 250 * time.Millisecond

// waitIdle waits first, then until pid used at most one clock tick of CPU in each of two
// consecutive idleWindows; it returns false when ctx ended or the process is gone first.
func waitIdle(ctx context.Context, pid int, first time.Duration) bool {
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	if !sleep(first) {
		return false
	}
	quiet := 0
	for {
		a, err := readProc(pid)
		if err != nil || a.rss == 0 {
			return false
		}
		if !sleep(idleWindow) {
			return false
		}
		b, err := readProc(pid)
		if err != nil || b.rss == 0 {
			return false
		}
		if b.cpu-a.cpu <= time.Second/clockTicks {
			if quiet++; quiet == 2 {
				return true
			}
		} else {
			quiet = 0
		}
	}
}

// watchdog samples a process's RSS and CPU time during a case and kills it (SIGKILL) once
// it used more than killCPU or grew by more than killRSS bytes over base.
type watchdog struct {
	mu     sync.Mutex
	last   procSample
	peak   int64
	why    string
	stop   chan struct{}
	done   chan struct{}
	before procSample
}

func watch(pid int, base procSample, killCPU time.Duration, killRSS int64, every time.Duration) *watchdog {
	w := &watchdog{last: base, peak: base.rss, before: base, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			s, err := readProc(pid)
			if err != nil || s.rss == 0 {
				return // gone (a zombie has no VmRSS)
			}
			w.mu.Lock()
			w.last = s
			w.peak = max(w.peak, s.rss, s.hwm)
			switch {
			case w.why != "":
			case s.rss-base.rss > killRSS:
				w.why = fmt.Sprintf("RSS +%.0f MB > %.0f MB after %s of CPU", mb(s.rss-base.rss), mb(killRSS), (s.cpu - base.cpu).Round(10*time.Millisecond))
			case s.cpu-base.cpu > killCPU:
				w.why = fmt.Sprintf("CPU > %s", killCPU)
			}
			killNow := w.why != ""
			w.mu.Unlock()
			if killNow {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				return
			}
		}
	}()
	return w
}

func (w *watchdog) cpuUsed() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.cpu - w.before.cpu
}

func (w *watchdog) reason() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.why
}

func (w *watchdog) peakRSS() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// close stops the sampling and returns the last sample.
func (w *watchdog) close() procSample {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// hostileTarget is the bridge of one case as the case's requests see it.
type hostileTarget struct {
	base, addr     string // http://host:port, host:port
	secret, apiKey string
	runID          string // makes event ids unique across cases and runs
	receiverURL    string
	client         *http.Client
	csrf           string // the signed-in session's form token
	webhookID      string // registered by setup
	over           func() bool

	mu       sync.Mutex
	statuses map[string]int
	requests int
	first    string // the start of the first answer body
	size     int    // the largest body sent, when the case does not know it beforehand
}

// sentBytes notes the size of a body whose size the case could not know beforehand.
func (t *hostileTarget) sentBytes(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.size = max(t.size, n)
}

// repeat calls f(0…n-1) one after another until the case is over budget or ctx ends.
func (t *hostileTarget) repeat(ctx context.Context, n int, f func(i int)) {
	for i := range n {
		if ctx.Err() != nil || t.over() {
			return
		}
		f(i)
	}
}

// record counts one request's outcome: an HTTP status or a transport error's class.
func (t *hostileTarget) record(outcome string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.statuses[outcome]++
	t.requests++
}

func (t *hostileTarget) sign(body []byte) string {
	sig, _ := signature.Sign(t.secret, body)
	return sig
}

// do sends one request, reads the answer (up to 64 MiB) and returns its status or the
// transport error's class.
func (t *hostileTarget) do(ctx context.Context, method, u string, h http.Header, body io.Reader) string {
	code, b, err := t.fetch(ctx, method, u, h, body)
	if err != nil {
		return classify(err.Error())
	}
	t.mu.Lock()
	if t.first == "" {
		t.first = answerText(b)
	}
	t.mu.Unlock()
	return strconv.Itoa(code)
}

func (t *hostileTarget) fetch(ctx context.Context, method, u string, h http.Header, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, b, err
	}
	return resp.StatusCode, b, nil
}

var (
	htmlTag = regexp.MustCompile(`(?s)<(head|script|style|nav|header).*?</(head|script|style|nav|header)>|<[^>]*>`)
	spaces  = regexp.MustCompile(`\s+`)
)

// answerText is the start of an answer body: JSON as is, HTML as its text (the page's message).
func answerText(b []byte) string {
	s := string(b)
	if strings.Contains(s, "<html") || strings.Contains(s, "<!DOCTYPE") || strings.Contains(s, "<!doctype") {
		if i := strings.Index(s, "<main"); i >= 0 {
			s = s[i:]
		}
		s = htmlTag.ReplaceAllString(s, " ")
	}
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// form posts values, with the session's CSRF token, to a dashboard path.
func (t *hostileTarget) form(ctx context.Context, path string, values url.Values) string {
	v := url.Values{"csrf": {t.csrf}}
	for k, vs := range values {
		v[k] = vs
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return t.do(ctx, http.MethodPost, t.base+path, h, strings.NewReader(v.Encode()))
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInWith loads the sign-in form and posts key; it returns the post's outcome.
func (t *hostileTarget) signInWith(ctx context.Context, key string) string {
	code, page, err := t.fetch(ctx, http.MethodGet, t.base+"/ui/signin", nil, nil)
	if err != nil {
		return classify(err.Error())
	}
	m := csrfField.FindSubmatch(page)
	if code != http.StatusOK || m == nil {
		return "signin form " + strconv.Itoa(code)
	}
	v := url.Values{"csrf": {string(m[1])}, "key": {key}, "next": {"/ui/routes"}}
	return t.do(ctx, http.MethodPost, t.base+"/ui/signin", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		strings.NewReader(v.Encode()))
}

// signIn signs in with the config's API key and keeps the session's CSRF token.
func signIn(ctx context.Context, t *hostileTarget) error {
	if got := t.signInWith(ctx, t.apiKey); got != "303" {
		return fmt.Errorf("sign-in answered %s, want 303", got)
	}
	code, page, err := t.fetch(ctx, http.MethodGet, t.base+"/ui/routes", nil, nil)
	if err != nil {
		return err
	}
	m := csrfField.FindSubmatch(page)
	if code != http.StatusOK || m == nil {
		return fmt.Errorf("GET /ui/routes after sign-in answered %d without a form token", code)
	}
	t.csrf = string(m[1])
	return nil
}

// registerWebhook registers a webhook at the receiver with the management API.
func (t *hostileTarget) registerWebhook(ctx context.Context) error {
	body := `{"url":` + strconv.Quote(t.receiverURL+"registered") + `,"events":["*"]}`
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + t.apiKey}}
	code, b, err := t.fetch(ctx, http.MethodPost, t.base+"/webhooks", h, strings.NewReader(body))
	if err != nil {
		return err
	}
	var out struct{ ID string }
	if code != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.ID == "" {
		return fmt.Errorf("POST /webhooks answered %d: %.200s", code, b)
	}
	t.webhookID = out.ID
	return nil
}

// slowCase opens conns connections at once, each posting a body of maxBody bytes with a bad
// signature: all but its last byte, then nothing for hold, then the last byte. The bodies are
// in flight together for hold, which is what an unauthenticated client can make the bridge
// keep in memory.
func slowCase(maxBody, conns int, hold time.Duration) *hostileCase {
	c := &hostileCase{name: fmt.Sprintf("%d connections at once, bodies of max_body_bytes held in flight %s", conns, hold),
		via: "ingest", auth: "bad signature", count: conns, size: maxBody}
	c.send = func(ctx context.Context, t *hostileTarget, c *hostileCase) {
		body := eventBody(maxBody, "hostile-slow", time.Now(), "title2", func(left int) []byte { return hugeString(left, false) })
		head := "POST " + IngestPath + " HTTP/1.1\r\nHost: " + t.addr + "\r\nContent-Type: application/json\r\n" +
			"X-Cortex-Event: issue.critical\r\nX-Cortex-Signature: sha256=" + strings.Repeat("0", 64) + "\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
		release := make(chan struct{})
		var written, done sync.WaitGroup
		for range c.count {
			written.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				wrote := sync.OnceFunc(written.Done)
				defer wrote()
				t.record(slowPost(ctx, t.addr, head, body, wrote, release))
			}()
		}
		all := make(chan struct{})
		go func() { written.Wait(); close(all) }()
		select { // every body but its last byte sent (or refused), within 10s
		case <-all:
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
		close(release)
		done.Wait()
	}
	return c
}

// slowPost sends head and body but its last byte, calls wrote, waits for release, sends the
// last byte and reads the answer.
func slowPost(ctx context.Context, addr, head string, body []byte, wrote func(), release <-chan struct{}) string {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return classify(err.Error())
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	br := bufio.NewReader(conn)
	answer := func() string {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return classify(err.Error())
		}
		resp.Body.Close()
		return strconv.Itoa(resp.StatusCode)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		return classify(err.Error())
	}
	if _, err := conn.Write(body[:len(body)-1]); err != nil {
		wrote()
		return answer() // refused early: the answer may be there
	}
	wrote()
	select {
	case <-release:
	case <-ctx.Done():
		return "timeout"
	}
	if _, err := conn.Write(body[len(body)-1:]); err != nil {
		return answer()
	}
	return answer()
}

// hostileReceiver is the targets' endpoint: it answers every delivery as Slack, Discord or a
// webhook receiver would and counts them.
type hostileReceiver struct {
	n atomic.Int64
}

func (rc *hostileReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	rc.n.Add(1)
	switch {
	case strings.HasPrefix(r.URL.Path, "/slack/"):
		_, _ = io.WriteString(w, "ok")
	case strings.HasPrefix(r.URL.Path, "/api/webhooks/"):
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// HostileConfig is what the hostile run's generated config needs.
type HostileConfig struct {
	Listen       string // host:port
	IngestSecret string
	APIKey       string // api.keys[0].key, account "bench"
	ReceiverURL  string // http://host:port/ of the loopback receiver
	MaxBodyBytes int    // ingest.max_body_bytes
}

// WriteHostileConfig writes dir/bridge.yaml: the shipped config.yaml's ingest, delivery,
// targets and routes, with the Slack, Discord and SIEM webhook targets pointed at the loopback
// receiver, SQLite and the audit file in dir, one API key, and a route whose rule is quadratic
// in the length of data.list (issue 16's rule). Differences from the shipped file, so that a
// case's whole cost falls inside it: the email targets (no SMTP server) and the digest are
// left out, the grouped route's window is 1s (max 5s) instead of 30s (5m), the Slack target
// has no rate limit, and private URLs are allowed for registered webhooks (the receiver is on
// loopback).
func WriteHostileConfig(dir string, c HostileConfig) (string, error) {
	q := strconv.Quote
	rc := strings.TrimSuffix(c.ReceiverURL, "/")
	cfg := `# Generated by cortex-bridge bench --hostile (the shipped config.yaml, on loopback).
server:
  listen: ` + q(c.Listen) + `
storage:
  driver: sqlite
  dsn: ` + q(filepath.Join(dir, "bridge.db")) + `
  retention: 720h
ingest:
  path: ` + IngestPath + `
  secrets: [` + q(c.IngestSecret) + `]
  tolerance: 5m
  max_body_bytes: ` + strconv.Itoa(c.MaxBodyBytes) + `
  rate_limit: {per_second: 500, burst: 1000}
delivery:
  timeout: 30s
  max_attempts: 4
  backoff: {initial: 5s, max: 10m}
templates:
  dir: ` + q(filepath.Join(dir, "templates")) + `
targets:
  - name: security-slack
    type: slack
    webhook_url: ` + q(rc+"/slack/T0000/B0000/XXXXXXXXXXXXXXXX") + `
  - name: dev-discord
    type: discord
    webhook_url: ` + q(rc+"/api/webhooks/123456789012345678/token-bench") + `
  - name: siem
    type: webhook
    url: ` + q(rc+"/siem") + `
    secret: "bench-siem-secret-0123456789"
    headers: {X-Team: security}
  - name: audit
    type: file
    path: ` + q(filepath.Join(dir, "audit.jsonl")) + `
routes:
  - name: siem
    when: >-
      event == "issue.critical" && severity_at_least(severity, "high")
      || event in ["scan.failed", "scan.timeout"]
      || event == "scan.completed" && score < 70
    targets: [siem]
  - name: critical-issues
    when: 'event == "issue.critical" && severity_at_least(severity, "high")'
    targets: [security-slack, dev-discord]
    group: {by: [scan_id], wait: 1s, max_wait: 5s, close_on: 'event == "scan.completed"'}
  - name: failures
    when: 'event in ["scan.failed", "scan.timeout"]'
    targets: [security-slack, dev-discord]
    throttle: {key: repo, interval: 1h}
  - name: low-scores
    when: 'event == "scan.completed" && score < 70'
    targets: [security-slack]
  - name: quadratic-list
    when: '"list" in data && all(data.list, {# in data.list})'
    targets: [audit]
  - name: everything-to-audit
    when: 'true'
    targets: [audit]
api:
  keys: [{account: bench, key: ` + q(c.APIKey) + `, role: admin}]  # the try form is an admin page
  allow_private_urls: true
  require_https: false
`
	path := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	return path, nil
}
