// Package api is the bridge's HTTP side: the Cortex ingest endpoint (README.md, "The ingest endpoint") and health checks;
// the management API and dashboard join it in their issues.
package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// Acceptor stores a verified event with its deliveries (core.Bus).
type Acceptor interface {
	Accept(ctx context.Context, ev *event.Event) (core.AcceptResult, error)
}

// IngestConfig is the ingest endpoint's policy (the ingest keys of docs/configuration.md).
type IngestConfig struct {
	Secrets   []string      // any may match X-Cortex-Signature
	Tolerance time.Duration // max |now - timestamp|; default DefaultTolerance
	// MaxBodyBytes bounds a body as sent and, for Content-Encoding: gzip, also as decompressed
	// (bytes); default DefaultMaxBodyBytes. Over it: 413 body_too_large.
	MaxBodyBytes int64
	// MaxUnverifiedBytes bounds the bytes of bodies being received whose signature is not yet
	// checked, all requests together (default DefaultMaxUnverifiedBytes), so forged requests
	// cannot hold unbounded memory. A request reserves its Content-Length (MaxBodyBytes when
	// chunked) before its body is read and frees it once the signature is checked; one that
	// cannot reserve within UnverifiedWait gets 503 unavailable with Retry-After: 1.
	MaxUnverifiedBytes int64
	// RatePerSec and RateBurst are the token bucket of accepted requests: when RatePerSec is
	// not set, both take the defaults (DefaultRatePerSec, DefaultRateBurst); a RateBurst not
	// set with a RatePerSec is 1.
	RatePerSec   float64
	RateBurst    int
	StrictEvents bool // reject event types other than the six Cortex sends
	NowFunc      func() time.Time
	// Observe, when set, is told every answer: the event type ("" before the body was read),
	// the outcome ("accepted", "duplicate" or the error code) and the time taken.
	Observe func(eventType, outcome string, d time.Duration)
}

// Error codes of the ingest answers (README.md, "The ingest endpoint").
const (
	CodeMissingSignature = "missing_signature"
	CodeInvalidSignature = "invalid_signature"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeInvalidJSON      = "invalid_json"
	CodeInvalidEvent     = "invalid_event"
	CodeEventMismatch    = "event_mismatch"
	CodeStaleTimestamp   = "stale_timestamp"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeMethodNotAllowed = "method_not_allowed"
)

// CodeShuttingDown is the 503 code while the bridge drains before it stops.
const CodeShuttingDown = "shutting_down"

// Defaults of IngestConfig, which are also the ingest keys' (docs/configuration.md).
const (
	DefaultTolerance    = 5 * time.Minute // ingest.tolerance
	DefaultMaxBodyBytes = 1 << 20         // ingest.max_body_bytes (1 MiB)
	DefaultRatePerSec   = 500             // ingest.rate_limit.per_second
	DefaultRateBurst    = 1000            // ingest.rate_limit.burst, with DefaultRatePerSec
)

// DefaultMaxUnverifiedBytes is IngestConfig.MaxUnverifiedBytes's default (16 MiB): 16 bodies of
// the default maximum size in flight at once, far above what one Cortex sender needs.
const DefaultMaxUnverifiedBytes = 16 << 20

// UnverifiedWait is how long a request waits for MaxUnverifiedBytes budget before it is
// answered 503: long enough to ride out a burst, short enough that the sender retries soon.
const UnverifiedWait = time.Second

// CodeUnsupportedEncoding is the 415 code for a Content-Encoding other than identity or gzip.
const CodeUnsupportedEncoding = "unsupported_encoding"

// CodeQueueFull is the 503 code while more deliveries wait than ingest.max_pending allows.
const CodeQueueFull = "queue_full"

// Ingest is the POST /webhooks/cortex handler. Its policy can be replaced while it serves
// (config reload), and Drain makes it refuse new events with 503 before a shutdown.
type Ingest struct {
	policy   atomic.Pointer[ingestPolicy]
	acc      Acceptor
	log      *slog.Logger
	draining atomic.Bool

	unverified     atomic.Int64 // bytes reserved by bodies not yet verified
	unverifiedPeak atomic.Int64
}

type ingestPolicy struct {
	cfg        IngestConfig
	limiter    *rate.Limiter
	unverified *semaphore.Weighted // MaxUnverifiedBytes
}

// NewIngest builds the handler. Zero fields of cfg take docs/configuration.md's defaults (5m tolerance,
// 1 MiB bodies, 500/s with bursts of 1000); a nil log discards.
func NewIngest(cfg IngestConfig, acc Acceptor, log *slog.Logger) *Ingest {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Ingest{acc: acc, log: log}
	h.Update(cfg)
	return h
}

// Update puts a new policy in force for the next requests. The rate limiter keeps its tokens
// unless the rate or burst changed.
func (h *Ingest) Update(cfg IngestConfig) {
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxUnverifiedBytes <= 0 {
		cfg.MaxUnverifiedBytes = DefaultMaxUnverifiedBytes
	}
	if cfg.RatePerSec <= 0 {
		cfg.RatePerSec, cfg.RateBurst = DefaultRatePerSec, DefaultRateBurst
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 1
	}
	p := &ingestPolicy{cfg: cfg}
	if old := h.policy.Load(); old != nil && old.cfg.RatePerSec == cfg.RatePerSec && old.cfg.RateBurst == cfg.RateBurst {
		p.limiter = old.limiter
	} else {
		p.limiter = rate.NewLimiter(rate.Limit(cfg.RatePerSec), cfg.RateBurst)
	}
	// Requests in flight release to the semaphore they reserved from, so a new size starts empty.
	if old := h.policy.Load(); old != nil && old.cfg.MaxUnverifiedBytes == cfg.MaxUnverifiedBytes {
		p.unverified = old.unverified
	} else {
		p.unverified = semaphore.NewWeighted(cfg.MaxUnverifiedBytes)
	}
	h.policy.Store(p)
}

// ReplayMargin is added to twice the tolerance in ReplayWindow: it covers the clocks of replicas
// that share one PostgreSQL database (one stamps received_at, another prunes) drifting apart.
const ReplayMargin = time.Minute

// ReplayWindow is how long after its arrival an event's id must still be stored for a
// byte-identical replay to be answered "duplicate" rather than accepted again: a timestamp may
// be up to the tolerance ahead of the clock when it arrives and is accepted until it is the
// tolerance behind, so 2 × tolerance, plus ReplayMargin. It follows Update (a reload of
// ingest.tolerance); the pruner keeps every event younger than this whatever storage.retention
// says (core.DispatcherConfig.ReplayWindow).
func (h *Ingest) ReplayWindow() time.Duration {
	return 2*h.policy.Load().cfg.Tolerance + ReplayMargin
}

// Drain makes every later request answer 503 shutting_down with Retry-After, so senders retry
// against the next process while this one finishes.
func (h *Ingest) Drain() { h.draining.Store(true) }

// Draining reports whether Drain was called.
func (h *Ingest) Draining() bool { return h.draining.Load() }

// UnverifiedBytes reports the bytes now reserved by bodies whose signature is not yet checked
// (at most MaxUnverifiedBytes), and the most reserved at once since the handler was built.
func (h *Ingest) UnverifiedBytes() (now, peak int64) {
	return h.unverified.Load(), h.unverifiedPeak.Load()
}

// ServeHTTP answers by the table in README.md, "The ingest endpoint"; 200 only after the event is committed.
func (h *Ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.policy.Load()
	start := p.cfg.NowFunc()
	eventType, outcome := h.serve(w, r, p, start)
	if p.cfg.Observe != nil {
		p.cfg.Observe(eventType, outcome, p.cfg.NowFunc().Sub(start))
	}
}

// serve handles one request and returns the event type (once known) and the outcome.
func (h *Ingest) serve(w http.ResponseWriter, r *http.Request, p *ingestPolicy, start time.Time) (eventType, outcome string) {
	cfg := p.cfg
	fail := func(status int, code, msg string) (string, string) {
		writeError(w, status, code, msg)
		return eventType, code
	}
	if h.draining.Load() {
		w.Header().Set("Retry-After", "5")
		return fail(http.StatusServiceUnavailable, CodeShuttingDown, "the bridge is shutting down; retry later")
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use POST")
	}
	// An unsigned request is refused before anything else is looked at (README.md: `curl -d` —
	// form-encoded, any size — gets 401 missing_signature), and without reading its body.
	sig := r.Header.Get("X-Cortex-Signature")
	if strings.TrimSpace(sig) == "" {
		return fail(http.StatusUnauthorized, CodeMissingSignature, "header X-Cortex-Signature is missing; sign the body with HMAC-SHA256: sha256=<hex>")
	}
	if r.ContentLength > cfg.MaxBodyBytes {
		return fail(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("body is %d bytes; the limit is %d", r.ContentLength, cfg.MaxBodyBytes))
	}
	body, bad := h.readVerified(w, r, p, sig)
	if bad != nil {
		if bad.status == 0 {
			return eventType, "client_gone" // nobody reads an answer
		}
		if bad.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		return fail(bad.status, bad.code, bad.msg)
	}
	eventType = r.Header.Get("X-Cortex-Event") // authenticated now; the body's type replaces it below
	// The rate limit counts authenticated requests only, so forged traffic cannot use up the
	// budget of the real sender.
	if res := p.limiter.ReserveN(start, 1); !res.OK() || res.DelayFrom(start) > 0 {
		delay := res.DelayFrom(start)
		res.CancelAt(start)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(delay.Seconds())))))
		return fail(http.StatusTooManyRequests, CodeRateLimited, "over the ingest rate limit; retry after the Retry-After seconds")
	}
	// Checked after the signature, so an unauthenticated caller learns nothing but 401/413.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			fmt.Sprintf("header Content-Type must be application/json, got %q", r.Header.Get("Content-Type")))
	}
	// The signature covers the body as sent; only a signed body is decompressed.
	body, bad = decodeContent(r.Header.Values("Content-Encoding"), body, cfg.MaxBodyBytes)
	if bad != nil {
		return fail(bad.status, bad.code, bad.msg)
	}
	ev, err := event.ParseContext(r.Context(), body)
	if r.Context().Err() != nil {
		return eventType, "client_gone" // the sender has gone: nothing is stored, it will retry
	}
	if ev != nil {
		eventType = ev.Type
	}
	if err != nil {
		code := CodeInvalidEvent
		if errors.Is(err, event.ErrInvalidJSON) {
			code = CodeInvalidJSON
		}
		return fail(http.StatusBadRequest, code, err.Error())
	}
	if hdr := r.Header.Get("X-Cortex-Event"); hdr != "" && hdr != ev.Type {
		return fail(http.StatusBadRequest, CodeEventMismatch, fmt.Sprintf("header X-Cortex-Event is %q but the body's event is %q", hdr, ev.Type))
	}
	if core.IsReservedEventType(ev.Type) {
		return fail(http.StatusBadRequest, CodeInvalidEvent, fmt.Sprintf("event: type %q is reserved for the bridge's own events (bridge.*, cortex_bridge.*, finding.*); Cortex cannot send it", ev.Type))
	}
	if cfg.StrictEvents && !event.IsKnownType(ev.Type) {
		return fail(http.StatusBadRequest, CodeInvalidEvent, fmt.Sprintf("event: unknown type %q (ingest.strict_events is on)", ev.Type))
	}
	if skew := start.Sub(ev.Timestamp); skew > cfg.Tolerance || skew < -cfg.Tolerance {
		return fail(http.StatusBadRequest, CodeStaleTimestamp,
			fmt.Sprintf("timestamp %s is %s from the bridge's clock; the tolerance is %s", ev.Timestamp.Format(time.RFC3339), skew.Round(time.Second).Abs(), cfg.Tolerance))
	}
	ev.Delivery = r.Header.Get("X-Cortex-Delivery")
	res, err := h.acc.Accept(r.Context(), ev)
	if errors.Is(err, core.ErrQueueFull) {
		w.Header().Set("Retry-After", "30")
		return fail(http.StatusServiceUnavailable, CodeQueueFull, "too many deliveries are waiting (ingest.max_pending); retry later")
	}
	if err != nil {
		w.Header().Set("Retry-After", "5")
		return fail(http.StatusServiceUnavailable, CodeUnavailable, "the event could not be stored; retry later")
	}
	if res.Duplicate {
		writeJSON(w, http.StatusOK, ingestAnswer{ID: ev.ID, Status: "duplicate"})
		h.log.Info("duplicate event", "event_id", ev.ID, "event", ev.Type, "sender_delivery", ev.Delivery)
		return eventType, "duplicate"
	}
	writeJSON(w, http.StatusOK, ingestAnswer{Deliveries: &res.Deliveries, Held: res.Held, ID: ev.ID, Status: "accepted"})
	h.log.Debug("event accepted", "event_id", ev.ID, "event", ev.Type, "deliveries", res.Deliveries,
		"sender_delivery", ev.Delivery, "duration", cfg.NowFunc().Sub(start))
	return eventType, "accepted"
}

// ingestAnswer is the body of a 200 from the ingest endpoint (docs/api.md). A struct, not a
// map: encoding a map cost 7 allocations per request (BENCHMARKS.md, "Allocation profiles
// of ingest and dispatch"); its fields are in the map's (sorted) order, so the bytes are the same.
type ingestAnswer struct {
	Deliveries *int   `json:"deliveries,omitempty"` // accepted only (0 included)
	Held       int    `json:"held,omitempty"`       // held back by a route's group, throttle or quiet hours
	ID         string `json:"id"`
	Status     string `json:"status"` // accepted | duplicate
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// refusal is an answer to send instead of going on: status 0 when the client has gone.
type refusal struct {
	status    int
	code, msg string
}

// readVerified reserves the body's size from p's MaxUnverifiedBytes budget, reads the body (at
// most MaxBodyBytes) and checks sig over it, then frees the reservation. Else it returns the
// answer: 413 body_too_large, 503 unavailable (no budget within UnverifiedWait), 401
// invalid_signature, 400 for a body that could not be read, or status 0 when the client left.
func (h *Ingest) readVerified(w http.ResponseWriter, r *http.Request, p *ingestPolicy, sig string) ([]byte, *refusal) {
	cfg := p.cfg
	n := cfg.MaxBodyBytes // chunked: the most it may be
	if r.ContentLength >= 0 {
		n = r.ContentLength
	}
	n = min(n, cfg.MaxUnverifiedBytes)
	if n > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), UnverifiedWait)
		err := p.unverified.Acquire(ctx, n)
		cancel()
		if err != nil {
			if r.Context().Err() != nil {
				return nil, &refusal{}
			}
			return nil, &refusal{http.StatusServiceUnavailable, CodeUnavailable,
				fmt.Sprintf("more than %d bytes of unverified bodies are being received (ingest.max_unverified_bytes); retry later", cfg.MaxUnverifiedBytes)}
		}
		now := h.unverified.Add(n)
		for peak := h.unverifiedPeak.Load(); now > peak && !h.unverifiedPeak.CompareAndSwap(peak, now); peak = h.unverifiedPeak.Load() {
		}
		defer func() {
			h.unverified.Add(-n)
			p.unverified.Release(n)
		}()
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes), r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &refusal{http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("body is over the limit of %d bytes", cfg.MaxBodyBytes)}
		}
		if r.Context().Err() != nil {
			return nil, &refusal{}
		}
		return nil, &refusal{http.StatusBadRequest, CodeInvalidJSON, "could not read the body: " + err.Error()}
	}
	if err := signature.Verify(cfg.Secrets, body, sig); err != nil {
		return nil, &refusal{http.StatusUnauthorized, CodeInvalidSignature,
			"header X-Cortex-Signature does not match the body (want sha256=<64 hex> of HMAC-SHA256 over the raw body)"}
	}
	return body, nil
}

// readBody reads rd to its end into one buffer of size bytes when size is known (>= 0), so a
// body costs its size once, not the doublings of a growing buffer.
func readBody(rd io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		return io.ReadAll(rd)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// decodeContent undoes Content-Encoding (the values of every header line): none or identity
// returns body as it is; gzip (or its alias x-gzip) decompresses it to at most limit bytes.
// Anything else, or more than one coding, is 415 unsupported_encoding; a gzip body over limit
// decompressed is 413 body_too_large, one that is not valid gzip 400 invalid_json.
func decodeContent(values []string, body []byte, limit int64) ([]byte, *refusal) {
	var codings []string
	for _, v := range values {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	if len(codings) == 0 {
		return body, nil
	}
	if len(codings) > 1 || (codings[0] != "gzip" && codings[0] != "x-gzip") {
		return nil, &refusal{http.StatusUnsupportedMediaType, CodeUnsupportedEncoding,
			fmt.Sprintf("header Content-Encoding %q is not supported; send the body as it is (identity) or with gzip, once", strings.Join(values, ", "))}
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, &refusal{http.StatusBadRequest, CodeInvalidJSON, "header Content-Encoding is gzip but the body is not gzip data: " + err.Error()}
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(zr, limit+1))
	if n > limit {
		return nil, &refusal{http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			fmt.Sprintf("the gzip body decompresses to more than the limit of %d bytes (ingest.max_body_bytes)", limit)}
	}
	if err != nil {
		return nil, &refusal{http.StatusBadRequest, CodeInvalidJSON, "header Content-Encoding is gzip but the body is not valid gzip data: " + err.Error()}
	}
	return buf.Bytes(), nil
}
