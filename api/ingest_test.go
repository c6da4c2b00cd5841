package api_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/bridge/bridgetest"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/signature"
)

const (
	ingestPath     = "/webhooks/cortex"
	testSecret     = "ingest-test-secret-3f9a0c"
	rotatedSecret  = "ingest-rotated-secret-77c1"
	otherSecret    = "not-the-configured-secret"
	fakeDeliveries = 2
	senderDelivery = "dlv-test-0001"
)

// fixedNow sits between the Cortex samples' timestamps (scan.completed 12:00, issue.critical
// 12:05), so both documentation examples pass the 5m tolerance byte for byte.
var fixedNow = time.Date(2024, 1, 1, 12, 2, 0, 0, time.UTC)

// fakeAcceptor stands in for core.Bus: it records every event it is handed and reports a
// duplicate for an id it has seen, or returns err when set.
type fakeAcceptor struct {
	err error

	mu     sync.Mutex
	seen   map[string]bool
	events []*event.Event
}

var _ api.Acceptor = (*fakeAcceptor)(nil)

func newFakeAcceptor(err error) *fakeAcceptor {
	return &fakeAcceptor{err: err, seen: map[string]bool{}}
}

func (a *fakeAcceptor) Accept(_ context.Context, ev *event.Event) (core.AcceptResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, ev)
	if a.err != nil {
		return core.AcceptResult{}, a.err
	}
	if a.seen[ev.ID] {
		return core.AcceptResult{Duplicate: true}, nil
	}
	a.seen[ev.ID] = true
	return core.AcceptResult{Deliveries: fakeDeliveries}, nil
}

func (a *fakeAcceptor) calls() []*event.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*event.Event(nil), a.events...)
}

// acceptFunc adapts a function to api.Acceptor.
type acceptFunc func(ctx context.Context, ev *event.Event) (core.AcceptResult, error)

func (f acceptFunc) Accept(ctx context.Context, ev *event.Event) (core.AcceptResult, error) {
	return f(ctx, ev)
}

// ingestBundle is one Ingest handler behind a loopback httptest.Server, with the handler at
// hand.
type ingestBundle struct {
	h    *api.Ingest
	cfg  api.IngestConfig
	acc  *fakeAcceptor
	url  string
	logs *bridgetest.Logs
	// contentLength is the last request's Content-Length as the server saw it (-1: chunked).
	contentLength atomic.Int64
}

func defaultConfig() api.IngestConfig {
	return api.IngestConfig{
		Secrets:      []string{testSecret},
		Tolerance:    5 * time.Minute,
		MaxBodyBytes: 1 << 20,
		RatePerSec:   500,
		RateBurst:    1000,
		NowFunc:      func() time.Time { return fixedNow },
	}
}

// setupIngest serves an Ingest handler with defaultConfig changed by mod, in front of a fake
// acceptor answering accErr. A unit set-up on purpose: its tests check the handler's answers,
// logs and limits with a clock fixed by hand and an acceptor that fails on demand; an ingested
// event's way to a receiver is tested on a whole bridge (bridge/bridgetest).
func setupIngest(t *testing.T, mod func(*api.IngestConfig), accErr error) *ingestBundle {
	t.Helper()
	b := &ingestBundle{cfg: defaultConfig(), acc: newFakeAcceptor(accErr), logs: &bridgetest.Logs{}}
	if mod != nil {
		mod(&b.cfg)
	}
	b.h = api.NewIngest(b.cfg, b.acc, slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.contentLength.Store(r.ContentLength)
		b.h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL + ingestPath
	return b
}

// reqOpt adjusts a request after the defaults (a Cortex-like signed POST) are set.
type reqOpt func(t *testing.T, r *http.Request, body []byte)

func withHeader(key, value string) reqOpt {
	return func(_ *testing.T, r *http.Request, _ []byte) { r.Header.Set(key, value) }
}

func withoutHeader(key string) reqOpt {
	return func(_ *testing.T, r *http.Request, _ []byte) { r.Header.Del(key) }
}

// signedWith replaces the signature with one made by secret over the request body.
func signedWith(secret string) reqOpt {
	return func(t *testing.T, r *http.Request, body []byte) {
		r.Header.Set("X-Cortex-Signature", sign(t, secret, body))
	}
}

// signedOver replaces the signature with the correct one for other bytes.
func signedOver(other []byte) reqOpt {
	return func(t *testing.T, r *http.Request, _ []byte) {
		r.Header.Set("X-Cortex-Signature", sign(t, testSecret, other))
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
	sent   http.Header // the request's headers
}

// send makes a Cortex-like request: Content-Type application/json, X-Cortex-Signature over the
// exact body with testSecret, X-Cortex-Event from the body (when it has one) and
// X-Cortex-Delivery; opts then change it. chunked sends the body without a Content-Length.
func send(t *testing.T, url, method string, body []byte, chunked bool, opts ...reqOpt) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
		if chunked {
			rd = struct{ io.Reader }{rd} // hides the length: net/http sends Transfer-Encoding: chunked
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Cortex-Signature", sign(t, testSecret, body))
	if ev := eventOf(body); ev != "" {
		req.Header.Set("X-Cortex-Event", ev)
	}
	req.Header.Set("X-Cortex-Delivery", senderDelivery)
	for _, o := range opts {
		o(t, req, body)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: raw, sent: req.Header}
}

func (b *ingestBundle) post(t *testing.T, body []byte, opts ...reqOpt) response {
	t.Helper()
	return send(t, b.url, http.MethodPost, body, false, opts...)
}

func sign(t testing.TB, secret string, body []byte) string {
	t.Helper()
	sig, err := signature.Sign(secret, body)
	require.NoError(t, err)
	return sig
}

// eventOf returns the body's "event" string, or "" when there is none.
func eventOf(body []byte) string {
	var head struct {
		Event string `json:"event"`
	}
	if json.Unmarshal(body, &head) != nil {
		return ""
	}
	return head.Event
}

func idOf(t *testing.T, body []byte) string {
	t.Helper()
	var head struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &head))
	require.NotEmpty(t, head.ID)
	return head.ID
}

func sample(t testing.TB, typ string) []byte {
	t.Helper()
	b, err := samples.Get(typ)
	require.NoError(t, err)
	return b
}

// eventBody returns the sample of typ with its timestamp set to ts (fixedNow when zero), after mod
// has changed the envelope env and its data object.
func eventBody(t testing.TB, typ string, ts time.Time, mod func(env, data map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	require.NoError(t, json.Unmarshal(sample(t, typ), &env))
	if ts.IsZero() {
		ts = fixedNow
	}
	env["timestamp"] = ts.Format(time.RFC3339Nano)
	if mod != nil {
		data, _ := env["data"].(map[string]any)
		mod(env, data)
	}
	b, err := json.Marshal(env)
	require.NoError(t, err)
	return b
}

// requireErrorBody checks the error shape of README.md's ingest table: a JSON object holding only
// {"error":{"code","message"}}, served as application/json, with the wanted code and a message
// containing each of msgParts.
func requireErrorBody(t *testing.T, res response, code string, msgParts ...string) {
	t.Helper()
	requireJSONContentType(t, res)
	var got map[string]map[string]string
	require.NoError(t, json.Unmarshal(res.body, &got), "error body is not the documented shape: %s", res.body)
	require.Len(t, got, 1, "error body: %s", res.body)
	e, ok := got["error"]
	require.True(t, ok, "error body: %s", res.body)
	require.Len(t, e, 2, "error body: %s", res.body)
	require.Equal(t, code, e["code"], "error body: %s", res.body)
	require.NotEmpty(t, e["message"])
	for _, p := range msgParts {
		require.Contains(t, e["message"], p, "error.message should name what is wrong")
	}
}

func requireJSONContentType(t *testing.T, res response) {
	t.Helper()
	mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "application/json", mt)
	require.True(t, json.Valid(res.body), "body is not JSON: %q", res.body)
}

func requireRetryAfter(t *testing.T, res response, lo, hi int) {
	t.Helper()
	v := res.header.Get("Retry-After")
	require.NotEmpty(t, v, "Retry-After header is required")
	secs, err := strconv.Atoi(v)
	require.NoError(t, err, "Retry-After must be delay-seconds, got %q", v)
	require.GreaterOrEqual(t, secs, lo)
	require.LessOrEqual(t, secs, hi)
}

func requireNoSecret(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.NotContains(t, text, s)
	}
}

// TestIngest is README.md's ingest table, one row per case.
func TestIngest(t *testing.T) {
	t.Parallel()

	completed := eventBody(t, "scan.completed", time.Time{}, nil)
	withData := func(typ string, mod func(data map[string]any)) []byte {
		return eventBody(t, typ, time.Time{}, func(_, data map[string]any) { mod(data) })
	}
	withEnv := func(mod func(env map[string]any)) []byte {
		return eventBody(t, "scan.completed", time.Time{}, func(env, _ map[string]any) { mod(env) })
	}
	at := func(d time.Duration) []byte { return eventBody(t, "scan.completed", fixedNow.Add(d), nil) }
	hex64 := strings.Repeat("ab", 32)

	type testCase struct {
		method     string // default POST
		body       []byte // default: completed
		chunked    bool
		opts       []reqOpt
		cfg        func(*api.IngestConfig)
		accErr     error
		before     int // requests sent first (same body unless beforeBody), each answered 200
		beforeBody []byte

		wantStatus int
		wantAnswer string   // "accepted" or "duplicate" on 200
		wantCode   string   // error.code otherwise
		wantMsg    []string // parts of error.message
		// wantRetryAfter bounds the Retry-After seconds when set.
		wantRetryAfter *[2]int
		wantHeader     map[string]string
		wantChunked    bool // the server saw no Content-Length
	}
	accepted := func(body []byte, opts ...reqOpt) testCase {
		return testCase{body: body, opts: opts, wantStatus: http.StatusOK, wantAnswer: "accepted"}
	}
	invalid := func(body []byte, code string, msg ...string) testCase {
		return testCase{body: body, wantStatus: http.StatusBadRequest, wantCode: code, wantMsg: msg}
	}
	unauthorized := func(code string, opts ...reqOpt) testCase {
		return testCase{opts: opts, wantStatus: http.StatusUnauthorized, wantCode: code, wantMsg: []string{"X-Cortex-Signature"}}
	}
	unsupported := func(opts ...reqOpt) testCase {
		return testCase{opts: opts, wantStatus: http.StatusUnsupportedMediaType, wantCode: api.CodeUnsupportedMedia, wantMsg: []string{"Content-Type"}}
	}
	limitTo := func(n int) func(*api.IngestConfig) {
		return func(c *api.IngestConfig) { c.MaxBodyBytes = int64(n) }
	}
	strict := func(c *api.IngestConfig) { c.StrictEvents = true }
	rotation := func(c *api.IngestConfig) { c.Secrets = []string{testSecret, rotatedSecret} }

	tests := map[string]testCase{
		// 200 accepted
		"accepted: Cortex doc sample scan.completed byte for byte": accepted(sample(t, "scan.completed")),
		"accepted: Cortex doc sample issue.critical byte for byte": accepted(sample(t, "issue.critical")),
		"accepted: charset parameter":                              accepted(completed, withHeader("Content-Type", "application/json; charset=utf-8")),
		"accepted: media type in upper case":                       accepted(completed, withHeader("Content-Type", "Application/JSON")),
		"accepted: no X-Cortex-Event header":                       accepted(completed, withoutHeader("X-Cortex-Event")),
		"accepted: no X-Cortex-Delivery header":                    accepted(completed, withoutHeader("X-Cortex-Delivery")),
		"accepted: fractional seconds and an offset": accepted(withEnv(func(env map[string]any) {
			env["timestamp"] = "2024-01-01T14:02:00.123456789+02:00"
		})),
		"accepted: unknown top-level and data fields": accepted(eventBody(t, "scan.completed", time.Time{}, func(env, data map[string]any) {
			env["source"] = "cortex-eu"
			data["labels"] = map[string]any{"team": "payments"}
		})),
		"accepted: absent optional data fields": accepted(withData("scan.completed", func(data map[string]any) {
			for k := range data {
				if k != "scan_id" {
					delete(data, k)
				}
			}
		})),
		"accepted: data field null counts as absent": accepted(withData("scan.completed", func(data map[string]any) { data["score"] = nil })),
		"accepted: boundary values": accepted(withData("scan.completed", func(data map[string]any) {
			data["score"], data["issues_count"], data["duration_seconds"] = 100, 0, 0
		})),
		"accepted: issue.critical line 1": accepted(withData("issue.critical", func(data map[string]any) { data["line"] = 1 })),
		"rotation: first of two secrets": {cfg: rotation, opts: []reqOpt{signedWith(testSecret)},
			wantStatus: http.StatusOK, wantAnswer: "accepted"},
		"rotation: second of two secrets": {cfg: rotation, opts: []reqOpt{signedWith(rotatedSecret)},
			wantStatus: http.StatusOK, wantAnswer: "accepted"},
		"size: body exactly max_body_bytes": {cfg: limitTo(len(completed)),
			wantStatus: http.StatusOK, wantAnswer: "accepted"},
		"size: body exactly max_body_bytes, chunked": {cfg: limitTo(len(completed)), chunked: true, wantChunked: true,
			wantStatus: http.StatusOK, wantAnswer: "accepted"},
		"timestamp: 4 min in the past":     accepted(at(-4 * time.Minute)),
		"timestamp: 4 min in the future":   accepted(at(4 * time.Minute)),
		"timestamp: exactly the tolerance": accepted(at(-5 * time.Minute)),
		"unknown event type: accepted by default": accepted(withEnv(func(env map[string]any) {
			env["event"], env["data"] = "scan.queued", map[string]any{"scan_id": 7}
		})),
		"strict events: known type accepted": {cfg: strict, wantStatus: http.StatusOK, wantAnswer: "accepted"},

		// 200 duplicate
		"duplicate: same id again": {before: 1, wantStatus: http.StatusOK, wantAnswer: "duplicate"},
		"duplicate: same id, other body and sender delivery": {before: 1, beforeBody: completed,
			body: withData("scan.completed", func(data map[string]any) { data["score"] = 12 }),
			opts: []reqOpt{withHeader("X-Cortex-Delivery", "dlv-other")}, wantStatus: http.StatusOK, wantAnswer: "duplicate"},

		// 401
		"signature: missing":      unauthorized(api.CodeMissingSignature, withoutHeader("X-Cortex-Signature")),
		"signature: empty header": unauthorized(api.CodeMissingSignature, withHeader("X-Cortex-Signature", "")),
		"signature: no sha256= prefix": unauthorized(api.CodeInvalidSignature, func(t *testing.T, r *http.Request, body []byte) {
			r.Header.Set("X-Cortex-Signature", strings.TrimPrefix(sign(t, testSecret, body), "sha256="))
		}),
		"signature: sha1= prefix": unauthorized(api.CodeInvalidSignature, func(t *testing.T, r *http.Request, body []byte) {
			r.Header.Set("X-Cortex-Signature", "sha1="+strings.TrimPrefix(sign(t, testSecret, body), "sha256="))
		}),
		"signature: 63 hex digits": unauthorized(api.CodeInvalidSignature, func(t *testing.T, r *http.Request, body []byte) {
			r.Header.Set("X-Cortex-Signature", sign(t, testSecret, body)[:len("sha256=")+63])
		}),
		"signature: 66 hex digits": unauthorized(api.CodeInvalidSignature, func(t *testing.T, r *http.Request, body []byte) {
			r.Header.Set("X-Cortex-Signature", sign(t, testSecret, body)+"00")
		}),
		"signature: not hex":            unauthorized(api.CodeInvalidSignature, withHeader("X-Cortex-Signature", "sha256="+strings.Repeat("zz", 32))),
		"signature: well-formed, wrong": unauthorized(api.CodeInvalidSignature, withHeader("X-Cortex-Signature", "sha256="+hex64)),
		"signature: wrong secret":       unauthorized(api.CodeInvalidSignature, signedWith(otherSecret)),
		"signature: other body":         unauthorized(api.CodeInvalidSignature, signedOver(append(bytes.Clone(completed), ' '))),
		"signature: wrong secret beats invalid JSON": {body: []byte(`{"event":`), opts: []reqOpt{signedWith(otherSecret)},
			wantStatus: http.StatusUnauthorized, wantCode: api.CodeInvalidSignature, wantMsg: []string{"X-Cortex-Signature"}},
		"signature: missing beats wrong Content-Type": {opts: []reqOpt{withoutHeader("X-Cortex-Signature"), withHeader("Content-Type", "text/plain")},
			wantStatus: http.StatusUnauthorized, wantCode: api.CodeMissingSignature, wantMsg: []string{"X-Cortex-Signature"}},

		// 413
		"size: over max_body_bytes with Content-Length": {cfg: limitTo(len(completed) - 1),
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: api.CodeBodyTooLarge,
			wantMsg: []string{"body", strconv.Itoa(len(completed) - 1)}},
		"size: over max_body_bytes, chunked": {cfg: limitTo(len(completed) - 1), chunked: true, wantChunked: true,
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: api.CodeBodyTooLarge,
			wantMsg: []string{"body", strconv.Itoa(len(completed) - 1)}},
		"size: far over the limit, chunked": {cfg: limitTo(64), chunked: true, wantChunked: true,
			body:       append(bytes.Clone(completed), bytes.Repeat([]byte(" "), 1<<20)...),
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: api.CodeBodyTooLarge, wantMsg: []string{"64"}},

		// 415
		"content type: text/plain":      unsupported(withHeader("Content-Type", "text/plain")),
		"content type: missing":         unsupported(withoutHeader("Content-Type")),
		"content type: curl -d default": unsupported(withHeader("Content-Type", "application/x-www-form-urlencoded")),
		"content type: json suffix":     unsupported(withHeader("Content-Type", "application/jsonl")),
		"content type: malformed":       unsupported(withHeader("Content-Type", "application/json; =")),

		// 400 invalid_json
		"json: truncated":           invalid(completed[:len(completed)/2], api.CodeInvalidJSON, "JSON"),
		"json: trailing garbage":    invalid(append(bytes.Clone(completed), "garbage"...), api.CodeInvalidJSON, "JSON"),
		"json: two objects":         invalid(append(bytes.Clone(completed), completed...), api.CodeInvalidJSON, "JSON"),
		"json: an array":            invalid([]byte("["+string(completed)+"]"), api.CodeInvalidJSON, "JSON"),
		"json: null":                invalid([]byte("null"), api.CodeInvalidJSON, "JSON"),
		"json: a string":            invalid([]byte(`"scan.completed"`), api.CodeInvalidJSON, "JSON"),
		"json: empty body":          invalid([]byte{}, api.CodeInvalidJSON, "JSON"),
		"json: unterminated string": invalid([]byte("{\"event\":\"scan.completed\",\"id\":\"a\xff"), api.CodeInvalidJSON, "JSON"),

		// 400 invalid_event: envelope
		"envelope: missing id":      invalid(withEnv(func(env map[string]any) { delete(env, "id") }), api.CodeInvalidEvent, "id: required"),
		"envelope: empty id":        invalid(withEnv(func(env map[string]any) { env["id"] = "" }), api.CodeInvalidEvent, "id: must not be empty"),
		"envelope: blank id":        invalid(withEnv(func(env map[string]any) { env["id"] = "  " }), api.CodeInvalidEvent, "id: must not be empty"),
		"envelope: id not a string": invalid(withEnv(func(env map[string]any) { env["id"] = 1234567890 }), api.CodeInvalidEvent, "id: must be a string"),
		"envelope: missing event":   invalid(withEnv(func(env map[string]any) { delete(env, "event") }), api.CodeInvalidEvent, "event: required"),
		"envelope: missing timestamp": invalid(withEnv(func(env map[string]any) { delete(env, "timestamp") }),
			api.CodeInvalidEvent, "timestamp: required"),
		"envelope: timestamp without zone": invalid(withEnv(func(env map[string]any) { env["timestamp"] = "2024-01-01T12:02:00" }),
			api.CodeInvalidEvent, "timestamp"),
		"envelope: timestamp with a space": invalid(withEnv(func(env map[string]any) { env["timestamp"] = "2024-01-01 12:02:00Z" }),
			api.CodeInvalidEvent, "timestamp"),
		"envelope: timestamp date only": invalid(withEnv(func(env map[string]any) { env["timestamp"] = "2024-01-01" }),
			api.CodeInvalidEvent, "timestamp"),
		"envelope: timestamp as unix seconds": invalid(withEnv(func(env map[string]any) { env["timestamp"] = fixedNow.Unix() }),
			api.CodeInvalidEvent, "timestamp: must be a string"),
		"envelope: missing data":     invalid(withEnv(func(env map[string]any) { delete(env, "data") }), api.CodeInvalidEvent, "data: required"),
		"envelope: data is an array": invalid(withEnv(func(env map[string]any) { env["data"] = []any{1} }), api.CodeInvalidEvent, "data: must be an object"),
		"envelope: data is a string": invalid(withEnv(func(env map[string]any) { env["data"] = "x" }), api.CodeInvalidEvent, "data: must be an object"),
		"envelope: data is null":     invalid(withEnv(func(env map[string]any) { env["data"] = nil }), api.CodeInvalidEvent, "data: must be an object"),
		"envelope: several problems named": invalid(withEnv(func(env map[string]any) { delete(env, "id"); env["data"] = 3 }),
			api.CodeInvalidEvent, "id: required", "data: must be an object"),

		// 400 invalid_event: data fields
		"data: score as a string": invalid(withData("scan.completed", func(d map[string]any) { d["score"] = "85" }),
			api.CodeInvalidEvent, "data.score"),
		"data: score over 100": invalid(withData("scan.completed", func(d map[string]any) { d["score"] = 100.5 }),
			api.CodeInvalidEvent, "data.score"),
		"data: issues_count not an integer": invalid(withData("scan.completed", func(d map[string]any) { d["issues_count"] = 1.5 }),
			api.CodeInvalidEvent, "data.issues_count"),
		"data: issues_count negative": invalid(withData("scan.completed", func(d map[string]any) { d["issues_count"] = -1 }),
			api.CodeInvalidEvent, "data.issues_count"),
		"data: duration_seconds negative": invalid(withData("scan.failed", func(d map[string]any) { d["duration_seconds"] = -0.5 }),
			api.CodeInvalidEvent, "data.duration_seconds"),
		"data: line 0": invalid(withData("issue.critical", func(d map[string]any) { d["line"] = 0 }),
			api.CodeInvalidEvent, "data.line"),
		"data: line as a string": invalid(withData("issue.critical", func(d map[string]any) { d["line"] = "42" }),
			api.CodeInvalidEvent, "data.line"),
		"data: progress 101": invalid(withData("scan.progress", func(d map[string]any) { d["progress"] = 101 }),
			api.CodeInvalidEvent, "data.progress"),
		"data: progress negative": invalid(withData("scan.progress", func(d map[string]any) { d["progress"] = -1 }),
			api.CodeInvalidEvent, "data.progress"),
		"data: missing scan_id": invalid(withData("scan.completed", func(d map[string]any) { delete(d, "scan_id") }),
			api.CodeInvalidEvent, "data.scan_id"),
		"data: scan_id not a string": invalid(withData("scan.started", func(d map[string]any) { d["scan_id"] = 123 }),
			api.CodeInvalidEvent, "data.scan_id"),
		"data: branch not a string": invalid(withData("scan.started", func(d map[string]any) { d["branch"] = []any{"main"} }),
			api.CodeInvalidEvent, "data.branch"),
		"data: issue.critical missing title": invalid(withData("issue.critical", func(d map[string]any) { delete(d, "title") }),
			api.CodeInvalidEvent, "data.title"),
		"data: issue.critical empty severity": invalid(withData("issue.critical", func(d map[string]any) { d["severity"] = "" }),
			api.CodeInvalidEvent, "data.severity"),
		"data: scan.timeout timeout_seconds as a string": invalid(withData("scan.timeout", func(d map[string]any) { d["timeout_seconds"] = "1800" }),
			api.CodeInvalidEvent, "data.timeout_seconds"),

		// 400 event_mismatch
		"event header differs from body": {opts: []reqOpt{withHeader("X-Cortex-Event", "issue.critical")},
			wantStatus: http.StatusBadRequest, wantCode: api.CodeEventMismatch,
			wantMsg: []string{"X-Cortex-Event", "issue.critical", "scan.completed"}},
		"event header differs only in case": {opts: []reqOpt{withHeader("X-Cortex-Event", "Scan.Completed")},
			wantStatus: http.StatusBadRequest, wantCode: api.CodeEventMismatch, wantMsg: []string{"X-Cortex-Event"}},

		// 400 stale_timestamp
		"timestamp: 6 min in the past":   invalid(at(-6*time.Minute), api.CodeStaleTimestamp, "timestamp", "5m0s"),
		"timestamp: 6 min in the future": invalid(at(6*time.Minute), api.CodeStaleTimestamp, "timestamp", "5m0s"),
		"timestamp: a year old":          invalid(at(-365*24*time.Hour), api.CodeStaleTimestamp, "timestamp"),
		"timestamp: tolerance is configurable": {cfg: func(c *api.IngestConfig) { c.Tolerance = time.Minute },
			body: at(-2 * time.Minute), wantStatus: http.StatusBadRequest, wantCode: api.CodeStaleTimestamp, wantMsg: []string{"1m0s"}},

		// 400 invalid_event: strict_events
		"strict events: unknown type rejected": {cfg: strict,
			body:       withEnv(func(env map[string]any) { env["event"], env["data"] = "scan.queued", map[string]any{} }),
			wantStatus: http.StatusBadRequest, wantCode: api.CodeInvalidEvent, wantMsg: []string{"event", "scan.queued"}},

		// 429
		"rate limited: second immediate request": {before: 1, cfg: func(c *api.IngestConfig) { c.RatePerSec, c.RateBurst = 1, 1 },
			body:       completed, // the first is accepted, the second never reaches the acceptor
			wantStatus: http.StatusTooManyRequests, wantCode: api.CodeRateLimited, wantMsg: []string{"rate limit"},
			wantRetryAfter: &[2]int{1, 1}},
		"rate limited: slow rate gives a long Retry-After": {before: 1, cfg: func(c *api.IngestConfig) { c.RatePerSec, c.RateBurst = 0.1, 1 },
			wantStatus: http.StatusTooManyRequests, wantCode: api.CodeRateLimited, wantRetryAfter: &[2]int{10, 10}},

		// 503
		"storage unavailable": {accErr: fmt.Errorf("ingest: %w: dial postgres://bridge:FAKE-DB-PASS@10.0.0.9/bridge", core.ErrUnavailable),
			wantStatus: http.StatusServiceUnavailable, wantCode: api.CodeUnavailable, wantMsg: []string{"retry"},
			wantRetryAfter: &[2]int{1, 60}},
		"queue full (backpressure)": {accErr: core.ErrQueueFull,
			wantStatus: http.StatusServiceUnavailable, wantCode: api.CodeQueueFull, wantMsg: []string{"ingest.max_pending", "retry"},
			wantRetryAfter: &[2]int{30, 30}},
		"bus shutting down": {accErr: core.ErrClosed,
			wantStatus: http.StatusServiceUnavailable, wantCode: api.CodeUnavailable, wantRetryAfter: &[2]int{1, 60}},

		// 405
		"method: GET": {method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed, wantCode: api.CodeMethodNotAllowed,
			wantMsg: []string{"POST"}, wantHeader: map[string]string{"Allow": http.MethodPost}},
		"method: PUT": {method: http.MethodPut, wantStatus: http.StatusMethodNotAllowed, wantCode: api.CodeMethodNotAllowed,
			wantMsg: []string{"POST"}, wantHeader: map[string]string{"Allow": http.MethodPost}},
	}
	for _, typ := range samples.Types() {
		tests["accepted: sample "+typ+" re-stamped"] = accepted(eventBody(t, typ, time.Time{}, nil))
	}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, tc.cfg, tc.accErr)
			method := cmp.Or(tc.method, http.MethodPost)
			body := tc.body
			if body == nil && method == http.MethodPost {
				body = completed
			}
			beforeBody := body
			if tc.beforeBody != nil {
				beforeBody = tc.beforeBody
			}
			for range tc.before {
				res := send(t, b.url, method, beforeBody, tc.chunked, tc.opts...)
				require.Equal(t, http.StatusOK, res.status, "request before the one under test: %s", res.body)
			}
			callsBefore := len(b.acc.calls())

			res := send(t, b.url, method, body, tc.chunked, tc.opts...)

			require.Equal(t, tc.wantStatus, res.status, "body: %s", res.body)
			requireJSONContentType(t, res)
			requireNoSecret(t, string(res.body), b.cfg.Secrets...)
			requireNoSecret(t, string(res.body), "FAKE-DB-PASS")
			requireNoSecret(t, b.logs.String(), b.cfg.Secrets...)
			for k, v := range tc.wantHeader {
				require.Equal(t, v, res.header.Get(k), "header %s", k)
			}
			if tc.wantRetryAfter != nil {
				requireRetryAfter(t, res, tc.wantRetryAfter[0], tc.wantRetryAfter[1])
			}
			if tc.wantChunked {
				require.EqualValues(t, -1, b.contentLength.Load(), "the request should have been sent chunked")
			}
			calls := b.acc.calls()[callsBefore:]

			if tc.wantStatus != http.StatusOK {
				requireErrorBody(t, res, tc.wantCode, tc.wantMsg...)
				if tc.wantStatus == http.StatusServiceUnavailable {
					require.Len(t, calls, 1, "503 comes from the acceptor")
				} else {
					require.Empty(t, calls, "a rejected event must never reach the acceptor")
				}
				return
			}

			id := idOf(t, body)
			switch tc.wantAnswer {
			case "accepted":
				require.JSONEq(t, fmt.Sprintf(`{"status":"accepted","id":%q,"deliveries":%d}`, id, fakeDeliveries), string(res.body))
			case "duplicate":
				require.JSONEq(t, fmt.Sprintf(`{"status":"duplicate","id":%q}`, id), string(res.body))
			default:
				t.Fatalf("bad test case: wantAnswer %q", tc.wantAnswer)
			}
			require.Len(t, calls, 1)
			ev := calls[0]
			require.Equal(t, id, ev.ID)
			require.Equal(t, eventOf(body), ev.Type)
			require.Equal(t, body, ev.Raw, "the stored event must be the body byte for byte")
			wantTS, err := event.Parse(bytes.Clone(body))
			require.NoError(t, err)
			require.True(t, wantTS.Timestamp.Equal(ev.Timestamp))
			require.Equal(t, res.sent.Get("X-Cortex-Delivery"), ev.Delivery, "X-Cortex-Delivery is recorded")
		})
	}
}

// TestIngest_UnsignedRequest: README.md's ingest table — an unsigned request such as the seed's
// `curl -d '{"test":"data"}'` gets 401 missing_signature and nothing is stored, whatever its
// Content-Type or size.
func TestIngest_UnsignedRequest(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		contentType string // "" sends none
		body        []byte
		maxBody     int64
	}{
		"curl -d default content type": {contentType: "application/x-www-form-urlencoded", body: []byte(`{"test":"data"}`)},
		"curl with -H json":            {contentType: "application/json", body: []byte(`{"test":"data"}`)},
		"no content type":              {body: []byte(`{"test":"data"}`)},
		"valid Cortex event, unsigned": {contentType: "application/json", body: sample(t, "scan.completed")},
		"unsigned and over the limit":  {contentType: "application/json", body: bytes.Repeat([]byte("x"), 4096), maxBody: 1024},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, func(c *api.IngestConfig) {
				if tc.maxBody > 0 {
					c.MaxBodyBytes = tc.maxBody
				}
			}, nil)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url, bytes.NewReader(tc.body))
			require.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			res := response{status: resp.StatusCode, header: resp.Header, body: raw}

			require.Equal(t, http.StatusUnauthorized, res.status, "body: %s", res.body)
			requireErrorBody(t, res, api.CodeMissingSignature, "X-Cortex-Signature")
			require.Empty(t, b.acc.calls(), "nothing may be stored for an unsigned request")
		})
	}
}

// TestCase_C14_SignatureOverRawBytes_Ingest: the bridge verifies the MAC over the bytes as
// received and parses JSON from those same bytes; re-serialising the JSON breaks the signature.
func TestCase_C14_SignatureOverRawBytes_Ingest(t *testing.T) {
	t.Parallel()
	const (
		secret = "test-secret"
		header = "sha256=8fd339f7cd6fdffcc01f1e8daec1b6aad237f1977323116fd53be931c723f306"
	)
	caseBody := []byte(`{"b":1, "a":"x"}`)
	require.Equal(t, header, sign(t, secret, caseBody), "the C14 header signs the C14 bytes")

	// A valid event with the formatting a JSON encoder would never produce: odd whitespace,
	// unsorted keys, escaped slashes, a number with an exponent.
	spaced := []byte("{ \"timestamp\" : \"2024-01-01T12:02:00Z\",\n\t\"event\":\"scan.completed\" ,  \"id\":\"evt_c14_spaced\"," +
		"\r\n \"data\" : { \"scan_id\" : \"scan_c14\", \"repo_url\":\"https:\\/\\/github.com\\/user\\/repo\", \"score\" : 8.5e1 }  }\n")
	var v any
	require.NoError(t, json.Unmarshal(spaced, &v))
	reserialised, err := json.Marshal(v)
	require.NoError(t, err)
	compacted := new(bytes.Buffer)
	require.NoError(t, json.Compact(compacted, spaced))
	spacedSig := sign(t, secret, spaced)
	oneByte := bytes.Replace(spaced, []byte("scan_c14"), []byte("scan_c15"), 1)

	tests := map[string]struct {
		body     []byte
		sig      string // "" sends no header
		emptyHdr bool   // send the header with an empty value
		status   int
		code     string
	}{
		"spaced event signed over its raw bytes":          {body: spaced, sig: spacedSig, status: http.StatusOK},
		"same event re-serialised, original signature":    {body: reserialised, sig: spacedSig, status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"same event compacted, original signature":        {body: compacted.Bytes(), sig: spacedSig, status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"one byte changed":                                {body: oneByte, sig: spacedSig, status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"no sha256= prefix":                               {body: spaced, sig: strings.TrimPrefix(spacedSig, "sha256="), status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"empty header":                                    {body: spaced, emptyHdr: true, status: http.StatusUnauthorized, code: api.CodeMissingSignature},
		"C14 bytes pass the signature check":              {body: caseBody, sig: header, status: http.StatusBadRequest, code: api.CodeInvalidEvent},
		"C14 bytes re-serialised fail the signature":      {body: []byte(`{"a":"x","b":1}`), sig: header, status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"C14 bytes, one byte changed":                     {body: []byte(`{"b":2, "a":"x"}`), sig: header, status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"C14 header without prefix":                       {body: caseBody, sig: strings.TrimPrefix(header, "sha256="), status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"C14 header with one hex digit changed":           {body: caseBody, sig: header[:len(header)-1] + "5", status: http.StatusUnauthorized, code: api.CodeInvalidSignature},
		"C14 empty header":                                {body: caseBody, emptyHdr: true, status: http.StatusUnauthorized, code: api.CodeMissingSignature},
		"C14 re-serialised and signed again is fine JSON": {body: []byte(`{"a":"x","b":1}`), sig: sign(t, secret, []byte(`{"a":"x","b":1}`)), status: http.StatusBadRequest, code: api.CodeInvalidEvent},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupIngest(t, func(c *api.IngestConfig) { c.Secrets = []string{secret} }, nil)
			res := b.post(t, tc.body, func(_ *testing.T, r *http.Request, _ []byte) {
				r.Header.Del("X-Cortex-Signature")
				if tc.sig != "" || tc.emptyHdr {
					r.Header.Set("X-Cortex-Signature", tc.sig)
				}
			})
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			calls := b.acc.calls()
			if tc.status != http.StatusOK {
				requireErrorBody(t, res, tc.code)
				require.Empty(t, calls)
				return
			}
			require.JSONEq(t, `{"status":"accepted","id":"evt_c14_spaced","deliveries":2}`, string(res.body))
			require.Len(t, calls, 1)
			require.Equal(t, tc.body, calls[0].Raw, "the raw bytes, whitespace and all, are what is stored")
			require.InDelta(t, 85.0, calls[0].Data["score"], 0, "JSON is parsed from the same bytes")
			require.Equal(t, "https://github.com/user/repo", calls[0].Data["repo_url"])
		})
	}
}

// TestIngest_RateLimitRefills: tokens come back with time, and a rejected request does not
// use one up.
func TestIngest_RateLimitRefills(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(fixedNow.UnixNano())
	b := setupIngest(t, func(c *api.IngestConfig) {
		c.RatePerSec, c.RateBurst = 1, 1
		c.NowFunc = func() time.Time { return time.Unix(0, now.Load()).UTC() }
	}, nil)
	body := func(id string) []byte {
		return eventBody(t, "scan.started", time.Time{}, func(env, _ map[string]any) { env["id"] = id })
	}

	require.Equal(t, http.StatusOK, b.post(t, body("evt_r1")).status)
	for range 3 {
		res := b.post(t, body("evt_r2"))
		require.Equal(t, http.StatusTooManyRequests, res.status)
		requireRetryAfter(t, res, 1, 1)
	}
	now.Add(int64(500 * time.Millisecond))
	res := b.post(t, body("evt_r2"))
	require.Equal(t, http.StatusTooManyRequests, res.status, "half a token is not enough")
	requireRetryAfter(t, res, 1, 1)
	now.Add(int64(500 * time.Millisecond))
	res = b.post(t, body("evt_r2"))
	require.Equal(t, http.StatusOK, res.status, "rejected requests must not have used up the refill: %s", res.body)
	require.Len(t, b.acc.calls(), 2)
}

// TestIngest_ForgedRequestsDoNotUseTheRateLimit: only authenticated requests count, so a flood
// of unsigned or wrongly signed requests cannot get the real sender throttled.
func TestIngest_ForgedRequestsDoNotUseTheRateLimit(t *testing.T) {
	t.Parallel()
	b := setupIngest(t, func(c *api.IngestConfig) { c.RatePerSec, c.RateBurst = 0.001, 1 }, nil)
	body := eventBody(t, "scan.started", time.Time{}, nil)
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, b.post(t, body, signedWith("wrong-secret")).status)
		require.Equal(t, http.StatusUnauthorized, b.post(t, body, withoutHeader("X-Cortex-Signature")).status)
	}
	res := b.post(t, body)
	require.Equal(t, http.StatusOK, res.status, "the one token is still there: %s", res.body)
	require.Equal(t, http.StatusTooManyRequests, b.post(t, eventBody(t, "scan.started", time.Time{}, nil)).status)
}

// c05Config is a bridge whose one target, counter, is the harness's webhook receiver.
const c05Config = `
ingest: {secrets: ["` + testSecret + `"], tolerance: 5m, max_body_bytes: 1048576, rate_limit: {per_second: 500, burst: 1000}}
delivery: {timeout: 5s}
targets:
  - {name: counter, type: webhook, url: "{{.Webhook}}", secret: "counter-secret-0123456789"}
routes:
  - {name: everything, when: "true", targets: [counter]}
`

// receivedIDs counts the events rc received, by id.
func receivedIDs(t *testing.T, rc *bridgetest.Receiver) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range rc.Posts() {
		var ev struct{ ID string }
		require.NoError(t, json.Unmarshal(p.Body, &ev), "%s", p.Body)
		out[ev.ID]++
	}
	return out
}

// TestCase_C05_Duplicates: the same event id POSTed twice, concurrently, and again after a
// restart is stored and sent once; every later answer is 200 duplicate.
func TestCase_C05_Duplicates(t *testing.T) {
	t.Parallel()
	fresh := func(id string) []byte {
		return eventBody(t, "scan.completed", time.Now().UTC(), func(env, _ map[string]any) { env["id"] = id })
	}
	first, concurrent := fresh("evt_c05_seq"), fresh("evt_c05_par")

	b1 := bridgetest.Start(t, c05Config, bridgetest.WithOwner("test-owner-1"))
	res := send(t, b1.IngestURL, http.MethodPost, first, false)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.JSONEq(t, `{"status":"accepted","id":"evt_c05_seq","deliveries":1}`, string(res.body))
	res = send(t, b1.IngestURL, http.MethodPost, first, false, withHeader("X-Cortex-Delivery", "sender-retry"))
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.JSONEq(t, `{"status":"duplicate","id":"evt_c05_seq"}`, string(res.body))

	// The same id from several senders at once: group commit must still store it once.
	const parallel = 8
	concurrentSig := sign(t, testSecret, concurrent)
	answers := make(chan string, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b1.IngestURL, bytes.NewReader(concurrent))
			if err != nil {
				answers <- err.Error()
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Cortex-Signature", concurrentSig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- err.Error()
				return
			}
			defer resp.Body.Close()
			var a struct{ Status string }
			if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
				answers <- fmt.Sprintf("HTTP %d %v", resp.StatusCode, err)
				return
			}
			answers <- a.Status
		})
	}
	wg.Wait()
	close(answers)
	got := map[string]int{}
	for a := range answers {
		got[a]++
	}
	require.Equal(t, map[string]int{"accepted": 1, "duplicate": parallel - 1}, got)

	require.Eventually(t, func() bool { return b1.Webhook.Count() >= 2 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, b1.Bridge.Idle, 5*time.Second, 5*time.Millisecond, "completions are written")
	require.NoError(t, b1.Stop())
	require.Equal(t, 1, receivedIDs(t, b1.Webhook)["evt_c05_seq"])
	require.Equal(t, 1, receivedIDs(t, b1.Webhook)["evt_c05_par"])

	// Restart on the same database file: the ids are remembered, nothing is re-sent.
	b2 := bridgetest.Start(t, c05Config, bridgetest.Sharing(b1), bridgetest.WithOwner("test-owner-2"))
	for _, body := range [][]byte{first, concurrent} {
		res = send(t, b2.IngestURL, http.MethodPost, body, false)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		require.JSONEq(t, fmt.Sprintf(`{"status":"duplicate","id":%q}`, idOf(t, body)), string(res.body))
	}
	require.Never(t, func() bool { return b2.Webhook.Count() != 2 }, 300*time.Millisecond, 10*time.Millisecond,
		"no target may receive a duplicate, before or after a restart")

	dls, err := b2.Store.Deliveries(t.Context(), core.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, dls, 2, "one delivery per event, none for the duplicates")
	for _, dl := range dls {
		require.Equal(t, core.StateSucceeded, dl.State)
		require.Equal(t, "counter", dl.Target)
		require.Equal(t, 1, dl.Attempts)
	}
	require.NoError(t, b2.Stop())
	require.Equal(t, map[string]int{"evt_c05_seq": 1, "evt_c05_par": 1}, receivedIDs(t, b2.Webhook))
}

type fakePinger struct{ err error }

func (p fakePinger) Ping(context.Context) error { return p.err }

// TestHandler: the mux sends every method on the ingest path to Ingest (so GET gets the JSON
// 405, not the mux's text one) and serves the health checks.
func TestHandler(t *testing.T) {
	t.Parallel()
	ingest := api.NewIngest(defaultConfig(), newFakeAcceptor(nil), slog.New(slog.DiscardHandler))
	tests := map[string]struct {
		method, path string
		pinger       fakePinger
		status       int
		body         string // JSON, compared semantically; "" skips
		code         string
	}{
		"healthz": {method: http.MethodGet, path: "/healthz", status: http.StatusOK, body: `{"status":"ok"}`},
		"readyz":  {method: http.MethodGet, path: "/readyz", status: http.StatusOK, body: `{"status":"ok","checks":{"storage":"ok"}}`},
		"readyz, storage down": {method: http.MethodGet, path: "/readyz", pinger: fakePinger{err: errors.New("storage unreachable")}, status: http.StatusServiceUnavailable,
			body: `{"status":"unavailable","checks":{"storage":"storage unreachable"}}`},
		"GET on the ingest path":           {method: http.MethodGet, path: ingestPath, status: http.StatusMethodNotAllowed, code: api.CodeMethodNotAllowed},
		"unsigned POST on the ingest path": {method: http.MethodPost, path: ingestPath, status: http.StatusUnauthorized, code: api.CodeMissingSignature},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`))
			r.Header.Set("Content-Type", "application/json")
			api.Routes{IngestPath: ingestPath, Ingest: ingest, Ready: map[string]api.Check{"storage": tc.pinger.Ping}}.Handler().ServeHTTP(w, r)
			res := response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			requireJSONContentType(t, res)
			if tc.body != "" {
				require.JSONEq(t, tc.body, string(res.body))
			}
			if tc.code != "" {
				requireErrorBody(t, res, tc.code)
			}
		})
	}
}

// FuzzIngest: for any correctly signed body the handler does not panic, answers 200 or 400 (413
// only over the limit), and answers 200 exactly when event.Parse accepts the body (and the
// timestamp is fresh and the header matches), passing the bytes on unchanged.
func FuzzIngest(f *testing.F) {
	for _, typ := range samples.Types() {
		f.Add(sample(f, typ))
		f.Add(eventBody(f, typ, time.Time{}, nil))
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"x"`, `{"b":1, "a":"x"}`, `{"event":"scan.completed"}{}`,
		`{"event":"x","id":"i","timestamp":"2024-01-01T12:02:00Z","data":{}}`,
		`{"event":"scan.completed","id":"i","timestamp":"2024-01-01T12:02:00Z","data":{"scan_id":"s","score":1e400}}`,
		`{"event":"issue.critical","id":"i","timestamp":"2024-01-01T12:02:00.000000001+00:00","data":{"scan_id":"s","issue_id":"i","severity":"low","title":"t","line":9007199254740993}}`,
		`{"event":"scan.started","id":"i","id":"j","timestamp":"2024-01-01T12:02:00Z","data":{"scan_id":"s"},"data":null}`,
		"{\"event\":\"scan.started\",\"id\":\"\xff\",\"timestamp\":\"2024-01-01T12:02:00Z\",\"data\":{\"scan_id\":\"s\"}}",
	} {
		f.Add([]byte(s))
	}
	const maxBody = 64 << 10
	allowed := map[string]bool{api.CodeInvalidJSON: true, api.CodeInvalidEvent: true, api.CodeEventMismatch: true, api.CodeStaleTimestamp: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got *event.Event
		acc := acceptFunc(func(_ context.Context, ev *event.Event) (core.AcceptResult, error) {
			got = ev
			return core.AcceptResult{Deliveries: 1}, nil
		})
		cfg := defaultConfig()
		cfg.MaxBodyBytes, cfg.RatePerSec = maxBody, math.Inf(1)
		h := api.NewIngest(cfg, acc, slog.New(slog.DiscardHandler))

		r := httptest.NewRequest(http.MethodPost, ingestPath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Cortex-Signature", sign(t, testSecret, body))
		if ev := eventOf(body); ev != "" {
			r.Header.Set("X-Cortex-Event", ev)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		res := response{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
		requireJSONContentType(t, res)

		if len(body) > maxBody {
			require.Equal(t, http.StatusRequestEntityTooLarge, res.status)
			return
		}
		parsed, perr := event.Parse(bytes.Clone(body))
		switch res.status {
		case http.StatusOK:
			require.NoError(t, perr, "200 for a body event.Parse rejects")
			require.NotNil(t, got)
			require.Equal(t, body, got.Raw)
			require.JSONEq(t, fmt.Sprintf(`{"status":"accepted","id":%s,"deliveries":1}`, mustJSON(t, parsed.ID)), string(res.body))
		case http.StatusBadRequest:
			require.Nil(t, got, "a rejected event reached the acceptor")
			var e struct{ Error struct{ Code string } }
			require.NoError(t, json.Unmarshal(res.body, &e))
			require.True(t, allowed[e.Error.Code], "unexpected code %q", e.Error.Code)
			switch {
			case errors.Is(perr, event.ErrInvalidJSON):
				require.Equal(t, api.CodeInvalidJSON, e.Error.Code)
			case perr != nil:
				require.Equal(t, api.CodeInvalidEvent, e.Error.Code)
			default: // event.Parse accepts it: only the checks after parsing may refuse it
				require.Contains(t, []string{api.CodeEventMismatch, api.CodeStaleTimestamp}, e.Error.Code)
			}
		default:
			t.Fatalf("status %d for a signed body: %s", res.status, res.body)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
