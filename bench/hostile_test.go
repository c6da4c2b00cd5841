package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// depthOf returns the deepest nesting of objects and arrays in a JSON text (strings skipped).
func depthOf(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// keysOf counts the keys of the object b and how many of them repeat an earlier one.
func keysOf(t *testing.T, b []byte) (keys, dups int) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	seen := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		if seen[k.(string)] {
			dups++
		}
		seen[k.(string)] = true
		keys++
		var v any
		require.NoError(t, dec.Decode(&v))
	}
	return keys, dups
}

func TestHostileShapesAreTheLargestOfTheirClass(t *testing.T) {
	t.Parallel()
	const n = 256 << 10
	for name, tc := range map[string]struct {
		b         []byte
		valid     bool
		minBytes  int // the shape fills at least this much of n
		depth     int // 0: not checked
		keys      int // 0: not checked
		dups      int
		elements  int // array elements; 0: not checked; negative: at least that many
		stringLen int // decoded string length; 0: not checked
	}{
		"deep objects, 9 990 levels, padded keys":   {b: deepObjects(n, keyFor(n, 9990), 9990), valid: true, minBytes: n - 9990*2, depth: 9990},
		"deep objects, short keys, as deep as fits": {b: deepObjects(n, 14, 0), valid: true, minBytes: n - 19, depth: (n - 1) / 19},
		"deep arrays, 9 990 levels":                 {b: deepArrays(n, 9990), valid: true, minBytes: 2*9990 + 1, depth: 9990},
		"deep arrays, as deep as fits":              {b: deepArrays(n, 0), valid: true, minBytes: n - 2, depth: (n - 1) / 2},
		"deep arrays, 9 989 levels, repeated":       {b: repeated(n, func(n int) []byte { return deepArrays(n, 9989) }), valid: true, minBytes: n - 2*9989 - 2, depth: 9990},
		"many distinct keys":                        {b: manyKeys(n, false), valid: true, minBytes: n - 13, keys: (n - 2) / 13},
		"many keys, the last a duplicate":           {b: manyKeys(n, true), valid: true, minBytes: n - 13, keys: (n - 2) / 13, dups: 1},
		"one key repeated":                          {b: sameKey(n), valid: true, minBytes: n - 6, keys: (n - 1) / 6, dups: (n-1)/6 - 1},
		"huge string":                               {b: hugeString(n, false), valid: true, minBytes: n, stringLen: n - 2},
		"huge string of escapes":                    {b: hugeString(n, true), valid: true, minBytes: n - 7, stringLen: (n - 2) / 6 * 2},
		"10 000 numbers":                            {b: numbers(n, 10000), valid: true, minBytes: 48890, elements: 10000},
		"numbers, as many as fit":                   {b: numbers(n, 0), valid: true, minBytes: n - 8, elements: -40000},
		"invalid UTF-8":                             {b: badUTF8(n), valid: false, minBytes: n},
	} {
		require.LessOrEqual(t, len(tc.b), n, name)
		require.GreaterOrEqual(t, len(tc.b), tc.minBytes, name)
		if !tc.valid {
			require.False(t, utf8.Valid(tc.b), name)
			require.True(t, bytes.HasSuffix(tc.b, append(bytes.Repeat([]byte{0xff}, 16), '"')), name)
			continue
		}
		if tc.depth > 0 {
			require.Equal(t, tc.depth, depthOf(tc.b), name)
			continue // encoding/json refuses more than 10 000 levels: not decoded here
		}
		require.True(t, json.Valid(tc.b), name)
		if tc.keys > 0 {
			keys, dups := keysOf(t, tc.b)
			require.Equal(t, tc.keys, keys, name)
			require.Equal(t, tc.dups, dups, name)
		}
		if tc.elements != 0 {
			var a []int
			require.NoError(t, json.Unmarshal(tc.b, &a), name)
			if tc.elements > 0 {
				require.Equal(t, tc.elements, len(a), name)
			} else {
				require.GreaterOrEqual(t, len(a), -tc.elements, name)
			}
			for i, v := range a {
				if v != i {
					require.Failf(t, "not distinct and in order", "%s: element %d is %d", name, i, v)
				}
			}
		}
		if tc.stringLen > 0 {
			var s string
			require.NoError(t, json.Unmarshal(tc.b, &s), name)
			require.Len(t, s, tc.stringLen, name)
		}
	}
}

func TestHostileCasesFitTheLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{64 << 10, 256 << 10} {
		cases := hostileCases(limit)
		names := map[string]bool{}
		for _, c := range cases {
			key := c.via + " " + c.name + " " + c.auth
			require.False(t, names[key], "two cases named %q", key)
			names[key] = true
			require.NotNil(t, c.send, key)
			require.Positive(t, c.count, key)
			require.Contains(t, []string{"ingest", "dashboard", "api"}, c.via, key)
			switch {
			case strings.Contains(c.name, "over the limit"):
				require.Equal(t, limit+1, c.size, key)
			case strings.HasPrefix(c.name, "gzip"):
				require.Zero(t, c.size, "%s: known once sent", key)
			case c.via == "ingest" && (strings.HasPrefix(c.name, "control") || strings.Contains(c.name, "10 000") ||
				strings.HasSuffix(c.name, "9 990 levels") || limit < 1<<20 && strings.Contains(c.name, "9 990 levels")):
				// a fixed size, or a depth of 9 990 that does not fit a small limit
				require.LessOrEqual(t, c.size, limit, key)
			case c.via == "ingest":
				require.LessOrEqual(t, c.size, limit, key)
				require.Greater(t, c.size, limit*98/100, "%s: %d bytes do not fill the limit %d", key, c.size, limit)
			}
		}
		// Every ingest class is sent both signed and with a bad signature.
		for _, c := range cases {
			if c.via == "ingest" && c.auth == "signed" && !strings.HasPrefix(c.name, "control") {
				require.True(t, names["ingest "+c.name+" bad signature"], c.name)
			}
		}
		require.Greater(t, len(cases), 40)
	}
}

func TestHostileEventBodiesAreValidEvents(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, size := range []int{4 << 10, 256 << 10} {
		b := eventBody(size, "hostile-t-1", now, "title2", func(left int) []byte { return hugeString(left, false) })
		require.Len(t, b, size)
		var ev struct {
			ID, Event, Timestamp string
			Data                 map[string]any
		}
		require.NoError(t, json.Unmarshal(b, &ev))
		require.Equal(t, "hostile-t-1", ev.ID)
		require.Equal(t, "issue.critical", ev.Event)
		require.Equal(t, now.UTC().Format(time.RFC3339Nano), ev.Timestamp)
		require.Equal(t, "critical", ev.Data["severity"])
		require.Len(t, ev.Data["title2"], size-len(b)+len(ev.Data["title2"].(string)))
	}
	// The gzip case decompresses far past the limit from a body well under it (a 4 KiB limit
	// here, 2 MiB decompressed; 1 MiB and 64 MiB in a run).
	require.Equal(t, 64<<20, gzipBombBytes(1<<20))
	require.Equal(t, 64<<20, gzipBombBytes(4<<20))
	require.Equal(t, 2<<20, gzipBombBytes(4<<10))
	wire := gzipped(eventBody(gzipBombBytes(4<<10), "hostile-t-2", now, "title2", func(left int) []byte { return hugeString(left, false) }))
	require.Less(t, len(wire), 4<<10)
	zr, err := gzip.NewReader(bytes.NewReader(wire))
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, zr)
	require.NoError(t, err)
	require.EqualValues(t, 2<<20, n)
}

func TestHostileConfigIsValidForTheBridge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, err := WriteHostileConfig(dir, HostileConfig{Listen: "127.0.0.1:1", IngestSecret: "s", APIKey: "bench-hostile-api-key-0123456789",
		ReceiverURL: "http://127.0.0.1:2/", MaxBodyBytes: 12345})
	require.NoError(t, err)
	cfg, err := config.Load(path)
	require.NoError(t, err)
	rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
	require.NoError(t, err)
	require.EqualValues(t, 12345, cfg.Ingest.MaxBodyBytes)
	require.Len(t, rt.Targets, 4)
	for _, tg := range rt.Targets {
		require.Empty(t, tg.Disabled, "%s: every target delivers to the receiver", tg.Name)
	}
	var rules []string
	for _, r := range cfg.Routes {
		rules = append(rules, r.When)
	}
	require.Contains(t, rules, `"list" in data && all(data.list, {# in data.list})`)
}

// The helper process stands for a bridge in the tests below: it serves ingest on
// HOSTILE_HELPER_ADDR, answers 401 to a bad signature, and keeps 48 MB alive for every signed
// body that has a "list" (a leak the bench must see), or burns CPU for HOSTILE_HELPER_BURN.
func TestHostileHelperProcess(t *testing.T) {
	addr := os.Getenv("HOSTILE_HELPER_ADDR")
	if addr == "" {
		return
	}
	var kept [][]byte
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("POST "+IngestPath, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if signature.Verify([]string{"s"}, body, r.Header.Get("X-Cortex-Signature")) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if bytes.Contains(body, []byte(`"list"`)) {
			b := make([]byte, 48<<20)
			for i := 0; i < len(b); i += 4096 { // every page resident
				b[i] = 1
			}
			kept = append(kept, b)
			if os.Getenv("HOSTILE_HELPER_HANG") != "" {
				select {}
			}
		}
		fmt.Fprint(w, `{"status":"accepted"}`)
	})
	if d, _ := time.ParseDuration(os.Getenv("HOSTILE_HELPER_BURN")); d > 0 {
		go func() {
			for start := time.Now(); time.Since(start) < d; {
			}
		}()
	}
	_ = http.ListenAndServe(addr, mux)
	os.Exit(0)
}

// helperLaunch starts the helper process as the bridge.
func helperLaunch(t *testing.T, env ...string) LaunchFunc {
	return func(ctx context.Context, _, addr string) (*Running, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHostileHelperProcess$")
		cmd.Env = append(append(os.Environ(), "HOSTILE_HELPER_ADDR="+addr), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test, even on a panic
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for !healthy("http://" + addr) {
			select {
			case err := <-exited:
				return nil, fmt.Errorf("helper exited: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		return &Running{Addr: addr, PID: cmd.Process.Pid, Stop: func() error {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return nil
		}}, nil
	}
}

func TestHostileMeasuresCPUAndRSSOfTheBridgeProcess(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		killRSS  int64
		env      string
		pass     map[string]bool // by auth
		killed   bool
		extraMin float64 // MB, for the signed case
	}{
		// Three signed requests keep 3 × 48 MB: over the target, under the kill bound.
		"over the target": {killRSS: 1 << 30, pass: map[string]bool{"signed": false, "bad signature": true}, extraMin: 3 * 48 * 0.9},
		// The first request takes 48 MB and never answers: only the watchdog's kill, at 32 MB,
		// ends it (else it would wait for the case timeout); down, lower bounds.
		"killed": {killRSS: 32 << 20, env: "HOSTILE_HELPER_HANG=1", pass: map[string]bool{"signed": false, "bad signature": true},
			killed: true, extraMin: 32},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep, err := Hostile(context.Background(), HostileOptions{Launch: helperLaunch(t, tc.env), LaunchName: "helper", Dir: t.TempDir(),
				Secret: "s", Cases: []string{"10 000 numbers in data.list (quadratic rule) ingest"}, KillRSS: tc.killRSS,
				StopAfterCPU: time.Minute, CaseTimeout: 10 * time.Minute}) // every request is sent, however slow the machine
			require.NoError(t, err)
			require.Len(t, rep.Cases, 2)
			for _, c := range rep.Cases {
				require.Equal(t, tc.pass[c.Auth], c.Pass, "%s: %s", c.Auth, c.Why)
				switch c.Auth {
				case "signed":
					require.GreaterOrEqual(t, c.ExtraRSSMB, tc.extraMin)
					require.Positive(t, c.CPUMS, "faulting in 48 MB takes CPU time")
					require.Equal(t, tc.killed, c.Killed != "", c.Killed)
					require.Equal(t, !tc.killed, c.Up)
					if tc.killed {
						require.Contains(t, c.Why, "killed by the bench: RSS")
						require.Equal(t, map[string]int{"reset": 1}, c.Statuses, "the kill ended the request")
					} else {
						require.Equal(t, map[string]int{"200": 3}, c.Statuses)
						require.Contains(t, c.Why, "MB RSS > 32")
					}
				case "bad signature":
					require.Equal(t, map[string]int{"401": 3}, c.Statuses)
					require.Less(t, c.ExtraRSSMB, 32.0)
					require.True(t, c.Up)
					require.GreaterOrEqual(t, c.IdleAfterS, settle.Seconds())
				}
			}
			var text bytes.Buffer
			require.NoError(t, rep.WriteText(&text))
			require.Regexp(t, `\| 10 000 numbers in data.list \(quadratic rule\) \| bad signature \| [0-9.]+ KiB \| 3 \| 401×3 \|.* \| yes \| PASS \|`, text.String())
			if tc.killed {
				require.Regexp(t, `\| signed \| [0-9.]+ KiB \| 1 \| reset×1 \| ≥ [0-9.]+ \| ≥ [0-9.]+ \| killed \| \*\*no\*\* \| FAIL: killed by the bench`, text.String())
			}
			require.Equal(t, 1, rep.Passed)
			require.Equal(t, 1, rep.Failed)
		})
	}
}

func TestWaitIdleFollowsTheProcessCPU(t *testing.T) {
	t.Parallel()
	addr, err := FreeAddr()
	require.NoError(t, err)
	br, err := helperLaunch(t, "HOSTILE_HELPER_BURN=1h")(context.Background(), "", addr)
	require.NoError(t, err)
	defer br.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	require.False(t, waitIdle(ctx, br.PID, 0), "a process spinning a core is not idle")

	idleAddr, err := FreeAddr()
	require.NoError(t, err)
	idle, err := helperLaunch(t)(context.Background(), "", idleAddr)
	require.NoError(t, err)
	defer idle.Stop()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	require.True(t, waitIdle(ctx2, idle.PID, 0), "a server without requests is idle")
	require.False(t, waitIdle(context.Background(), 1<<30, 0), "no such process")
}

func TestResetPeakOfAChild(t *testing.T) {
	t.Parallel()
	addr, err := FreeAddr()
	require.NoError(t, err)
	br, err := helperLaunch(t)(context.Background(), "", addr)
	require.NoError(t, err)
	defer br.Stop()
	body := eventBody(1024, "hostile-peak", time.Now(), "list", func(int) []byte { return []byte("[1]") })
	sig, err := signature.Sign("s", body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+IngestPath, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Cortex-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	s, err := readProc(br.PID)
	require.NoError(t, err)
	require.Greater(t, s.rss, int64(48<<20), "the helper keeps 48 MB")
	require.GreaterOrEqual(t, s.hwm, s.rss)
	require.NoError(t, resetPeak(br.PID))
	after, err := readProc(br.PID)
	require.NoError(t, err)
	require.Less(t, after.hwm-after.rss, int64(4<<20), "clear_refs 5 brings VmHWM down to VmRSS")
	require.True(t, errors.Is(resetPeak(1<<30), os.ErrNotExist))
}

func TestHostileFormsCarryTheToken(t *testing.T) {
	t.Parallel()
	got := make(chan url.Values, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got <- r.PostForm
	}))
	defer ts.Close()
	tg := &hostileTarget{base: ts.URL, csrf: "tok", client: ts.Client()}
	require.Equal(t, "200", tg.form(context.Background(), "/ui/routes/try", url.Values{"event": {"{}"}}))
	form := <-got
	require.Equal(t, "tok", form.Get("csrf"))
	require.Equal(t, "{}", form.Get("event"))
}
