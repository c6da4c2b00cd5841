// Package sender posts signed events to a bridge the way Cortex does: one JSON event per POST
// with X-Cortex-Signature, X-Cortex-Event and a X-Cortex-Delivery id kept across retries; 429 is
// retried after its Retry-After, 503 and network errors with backoff, so no event is dropped.
// The send command and the load generator use it.
package sender

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"

	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/signature"
)

// Client sends events to one ingest URL.
type Client struct {
	URL    string
	Secret string
	HTTP   *http.Client // default: 10s timeout
	// MaxElapsed bounds the retries of one event (default 2m).
	MaxElapsed time.Duration
}

// Result is the bridge's final answer to one event.
type Result struct {
	EventID    string
	Event      string
	StatusCode int    // 0 when no answer came
	Status     string // "accepted" or "duplicate" on 200
	Code       string // the error code otherwise, e.g. "invalid_signature"
	Message    string
	Deliveries int
	Held       int // held back by a route's group, throttle or quiet hours, to be sent later
	Tries      int
}

type answer struct {
	Status     string `json:"status"`
	Deliveries int    `json:"deliveries"`
	Held       int    `json:"held"`
	Error      struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Send signs body and POSTs it until the bridge answers something other than 429/503 or
// MaxElapsed passes. It returns the last answer; err is set only when no final answer came.
func (c *Client) Send(ctx context.Context, body []byte) (Result, error) {
	var head struct {
		Event string `json:"event"`
		ID    string `json:"id"`
	}
	_ = json.Unmarshal(body, &head)
	res := Result{EventID: head.ID, Event: head.Event}
	sig, err := signature.Sign(c.Secret, body)
	if err != nil {
		return res, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	delivery := uuid.NewString()
	op := func() (Result, error) {
		res.Tries++
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
		if err != nil {
			return res, backoff.Permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Cortex-Signature", sig)
		req.Header.Set("X-Cortex-Event", head.Event)
		req.Header.Set("X-Cortex-Delivery", delivery)
		resp, err := hc.Do(req)
		if err != nil {
			return res, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var a answer
		_ = json.Unmarshal(raw, &a)
		res.StatusCode, res.Status, res.Code, res.Message, res.Deliveries = resp.StatusCode, a.Status, a.Error.Code, a.Error.Message, a.Deliveries
		res.Held = a.Held
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if after := notify.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); after > 0 {
				return res, &backoff.RetryAfterError{Duration: after}
			}
			return res, fmt.Errorf("HTTP %d %s", resp.StatusCode, a.Error.Code)
		}
		return res, nil
	}
	maxElapsed := c.MaxElapsed
	if maxElapsed <= 0 {
		maxElapsed = 2 * time.Minute
	}
	b := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 10 * time.Second}
	return backoff.Retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(maxElapsed))
}

// Restamp returns body with its "timestamp" set to now (RFC 3339, UTC, milliseconds), so recorded
// events pass the bridge's tolerance. The other fields keep their values; keys are re-encoded in
// sorted order.
func Restamp(body []byte, now time.Time) ([]byte, error) {
	return setEnvelope(body, map[string]string{"timestamp": stamp(now)})
}

// Reissue returns body as a new event: its "id" set to id and its "timestamp" to now, so the
// bridge takes it for an event it has not seen rather than a duplicate (NewEventID makes an id).
// The other fields keep their values, as with Restamp.
func Reissue(body []byte, id string, now time.Time) ([]byte, error) {
	return setEnvelope(body, map[string]string{"id": id, "timestamp": stamp(now)})
}

// NewEventID returns a random event id shaped like Cortex's: "evt_" and 20 hex digits.
func NewEventID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "evt_" + hex.EncodeToString(b)
}

// stamp formats now as the events' timestamps: RFC 3339, UTC, milliseconds.
func stamp(now time.Time) string { return now.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// setEnvelope returns the JSON object body with the string fields set; the other values keep
// their bytes and keys are re-encoded in sorted order.
func setEnvelope(body []byte, fields map[string]string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	for k, v := range fields {
		m[k], _ = json.Marshal(v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<", ">" and "&" as sent
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
