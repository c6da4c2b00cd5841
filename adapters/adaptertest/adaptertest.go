// Package adaptertest is the conformance suite every HTTP adapter passes: status
// classification (notify.ClassifyStatus), Retry-After, the receiver's answer recorded, secrets kept
// out of errors and recorded answers also when the receiver echoes them (SecretEchoed), the
// context honoured, redirects not followed and bodies drained so connections are reused, and
// the preview the dry run prints (notify.Previewer) being the body sent, with no JSON nulls. Each adapter's test calls Run with a factory that points it at a loopback receiver.
package adaptertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
)

// Suite describes the adapter under test.
type Suite struct {
	// New returns a Notifier that sends to baseURL (a loopback receiver), with Secret somewhere in
	// its configuration (URL token, signing secret, bot token).
	New func(t *testing.T, baseURL string) notify.Notifier
	// Secret must never appear in an error the adapter returns, nor in the answer it records,
	// nor in the notes it adds to the message (which are logged).
	Secret string
	// Secrets are more credentials held to the same rule (a bot token beside a webhook URL,
	// a whole webhook URL path).
	Secrets []string
	// Success is what the receiver answers on success (default: 200 with body "ok").
	Success func(w http.ResponseWriter)
}

// Message returns a message for the issue.critical sample, as the worker would hand it over.
func Message(t *testing.T) *notify.Message {
	t.Helper()
	b, err := samples.Get(event.IssueCritical)
	require.NoError(t, err)
	ev, err := event.Parse(b)
	require.NoError(t, err)
	return &notify.Message{DeliveryID: "0190d2a8-0000-7000-8000-000000000001", Attempt: 1, Target: "t", Route: "r",
		Event: ev, Events: []*event.Event{ev}}
}

// Run runs the suite.
func Run(t *testing.T, s Suite) {
	if s.Success == nil {
		s.Success = func(w http.ResponseWriter) { _, _ = w.Write([]byte("ok")) }
	}
	t.Run("StatusClassification", func(t *testing.T) { t.Parallel(); s.statusClassification(t) })
	t.Run("RetryAfter", func(t *testing.T) { t.Parallel(); s.retryAfter(t) })
	t.Run("ResponseRecorded", func(t *testing.T) { t.Parallel(); s.responseRecorded(t) })
	t.Run("NetworkError", func(t *testing.T) { t.Parallel(); s.networkError(t) })
	t.Run("TimeoutIsPossiblyDelivered", func(t *testing.T) { t.Parallel(); s.timeout(t) })
	t.Run("CancelledContext", func(t *testing.T) { t.Parallel(); s.cancelled(t) })
	t.Run("RedirectNotFollowed", func(t *testing.T) { t.Parallel(); s.redirect(t) })
	t.Run("ConnectionReused", func(t *testing.T) { t.Parallel(); s.connectionReused(t) })
	t.Run("SecretEchoed", func(t *testing.T) { t.Parallel(); s.SecretEchoed(t) })
	t.Run("PreviewIsWhatIsSent", func(t *testing.T) { t.Parallel(); s.PreviewIsWhatIsSent(t) })
}

func (s Suite) serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// requireNoSecret fails when err, or the answer it records, mentions a secret.
func (s Suite) requireNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range s.secrets() {
		require.NotContains(t, err.Error(), secret, "an error leaks a secret")
		var de *notify.DeliveryError
		if errors.As(err, &de) {
			require.NotContains(t, de.Response, secret, "the recorded answer leaks a secret")
		}
	}
}

func (s Suite) secrets() []string {
	var out []string
	for _, v := range append([]string{s.Secret}, s.Secrets...) {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// echo is what a hostile or careless receiver sends back: the request line, every header and
// the body, verbatim.
func echo(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	var e strings.Builder
	fmt.Fprintf(&e, "%s %s HTTP/1.1\nHost: %s\n", r.Method, r.URL.RequestURI(), r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&e, "%s: %s\n", k, v)
		}
	}
	e.Write(b)
	return e.String()
}

// SecretEchoed: the receiver echoes every secret it was sent (URL, headers, body) in its answer's
// body and headers, in every shape an answer can have (plain text, a JSON error, Slack's 200
// "ok": false, a rate limit, a redirect whose Location carries it); no secret reaches the
// returned error (which is logged), the answer recorded in the attempt, or the message's notes.
func (s Suite) SecretEchoed(t *testing.T) {
	quoted := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	answers := map[string]struct {
		fails  bool
		answer func(w http.ResponseWriter, echo string)
	}{
		"400 text": {true, func(w http.ResponseWriter, e string) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "bad request: "+e)
		}},
		"500 JSON": {true, func(w http.ResponseWriter, e string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"ok":false,"error":`+quoted(e)+`,"message":`+quoted(e)+`}`)
		}},
		"429": {true, func(w http.ResponseWriter, e string) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, e)
		}},
		"200 ok false": {false, func(w http.ResponseWriter, e string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":false,"error":`+quoted(e)+`}`)
		}},
		"302 Location": {true, func(w http.ResponseWriter, e string) {
			w.Header().Set("Location", "/moved?echo="+url.QueryEscape(e))
			w.WriteHeader(http.StatusFound)
			_, _ = io.WriteString(w, e)
		}},
	}
	for name, tc := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) {
				e := echo(r)
				for k, vs := range r.Header {
					w.Header()["X-Echo-"+k] = vs
				}
				tc.answer(w, e)
			})
			msg := Message(t)
			err := s.New(t, srv.URL).Notify(context.Background(), msg)
			if tc.fails {
				require.Error(t, err, "the answer is a failure")
			}
			s.requireNoSecret(t, err)
			for _, secret := range s.secrets() {
				for _, note := range msg.Notes {
					require.NotContains(t, note, secret)
				}
			}
		})
	}
}

func deliveryError(t *testing.T, err error) *notify.DeliveryError {
	t.Helper()
	var de *notify.DeliveryError
	require.ErrorAs(t, err, &de, "adapters classify every failure with *notify.DeliveryError")
	return de
}

func (s Suite) statusClassification(t *testing.T) {
	tests := map[int]struct {
		ok        bool
		retryable bool
		reason    notify.Reason
	}{
		200: {ok: true}, 201: {ok: true}, 202: {ok: true}, 204: {ok: true},
		301: {reason: notify.ReasonRedirect}, 302: {reason: notify.ReasonRedirect}, 307: {reason: notify.ReasonRedirect}, 308: {reason: notify.ReasonRedirect},
		400: {reason: notify.ReasonClientError}, 401: {reason: notify.ReasonClientError}, 403: {reason: notify.ReasonClientError},
		404: {reason: notify.ReasonClientError}, 410: {reason: notify.ReasonClientError}, 413: {reason: notify.ReasonClientError},
		422: {reason: notify.ReasonClientError},
		408: {retryable: true, reason: notify.ReasonServerError}, 425: {retryable: true, reason: notify.ReasonServerError},
		429: {retryable: true, reason: notify.ReasonRateLimited},
		500: {retryable: true, reason: notify.ReasonServerError}, 502: {retryable: true, reason: notify.ReasonServerError},
		503: {retryable: true, reason: notify.ReasonServerError}, 504: {retryable: true, reason: notify.ReasonServerError},
	}
	for code, tc := range tests {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) {
				if code >= 200 && code < 300 {
					w.WriteHeader(code)
					if code != 204 {
						_, _ = w.Write([]byte(`{"ok":true}`))
					}
					return
				}
				if code >= 300 && code < 400 {
					w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
				}
				w.WriteHeader(code)
				_, _ = w.Write([]byte(`{"ok":false,"error":"status test"}`))
			})
			n := s.New(t, srv.URL)
			err := n.Notify(context.Background(), Message(t))
			if tc.ok {
				require.NoError(t, err)
				return
			}
			de := deliveryError(t, err)
			require.Equal(t, code, de.StatusCode)
			require.Equal(t, tc.retryable, de.Retryable, "retryable for %d", code)
			require.Equal(t, tc.reason, de.Reason)
			s.requireNoSecret(t, err)
		})
	}
}

// inNinetySeconds stands for an HTTP-date 90 s after the answer, made when the receiver answers
// (a date made when the suite starts is stale by the time a loaded machine runs the case).
const inNinetySeconds = "<HTTP-date in 90 s>"

func (s Suite) retryAfter(t *testing.T) {
	tests := map[string]struct {
		code    int
		header  string
		min     time.Duration
		max     time.Duration
		reasonn notify.Reason
	}{
		"429 seconds":           {429, "3", 3 * time.Second, 3 * time.Second, notify.ReasonRateLimited},
		"429 fractional":        {429, "1.5", 1500 * time.Millisecond, 1500 * time.Millisecond, notify.ReasonRateLimited},
		"429 HTTP-date":         {429, inNinetySeconds, 80 * time.Second, 91 * time.Second, notify.ReasonRateLimited},
		"429 missing":           {429, "", 0, 0, notify.ReasonRateLimited},
		"429 garbage":           {429, "soon", 0, 0, notify.ReasonRateLimited},
		"503 seconds":           {503, "7", 7 * time.Second, 7 * time.Second, notify.ReasonServerError},
		"503 date in the past":  {503, "Mon, 01 Jan 2024 00:00:00 GMT", 0, 0, notify.ReasonServerError},
		"429 negative is unset": {429, "-5", 0, 0, notify.ReasonRateLimited},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) {
				switch tc.header {
				case "":
				case inNinetySeconds:
					w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
				default:
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
			})
			de := deliveryError(t, s.New(t, srv.URL).Notify(context.Background(), Message(t)))
			require.True(t, de.Retryable)
			require.Equal(t, tc.reasonn, de.Reason)
			require.GreaterOrEqual(t, de.RetryAfter, tc.min)
			require.LessOrEqual(t, de.RetryAfter, tc.max)
		})
	}
}

func (s Suite) responseRecorded(t *testing.T) {
	long := strings.Repeat("x", 4000)
	srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("invalid_payload " + long))
	})
	de := deliveryError(t, s.New(t, srv.URL).Notify(context.Background(), Message(t)))
	require.False(t, de.Retryable)
	require.True(t, strings.HasPrefix(de.Response, "invalid_payload"), "the receiver's answer goes into the attempt: %q", de.Response[:40])
	require.LessOrEqual(t, len(de.Response), notify.MaxResponseBytes)
}

func (s Suite) networkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now: connection refused
	err = s.New(t, "http://"+addr).Notify(context.Background(), Message(t))
	de := deliveryError(t, err)
	require.True(t, de.Retryable)
	require.Equal(t, notify.ReasonNetwork, de.Reason)
	s.requireNoSecret(t, err)
}

func (s Suite) timeout(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	// 2 s, not less: the request must reach the receiver before the deadline (hits == 1) also
	// on a loaded machine running every adapter's suite in parallel under -race.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := s.New(t, srv.URL).Notify(ctx, Message(t))
	require.Less(t, time.Since(start), 5*time.Second, "the attempt ends when its context does")
	de := deliveryError(t, err)
	require.True(t, de.Retryable)
	require.Equal(t, notify.ReasonTimeout, de.Reason)
	require.Contains(t, de.Error(), "possibly delivered")
	require.Equal(t, int32(1), hits.Load(), "no retry inside the adapter")
	s.requireNoSecret(t, err)
}

func (s Suite) cancelled(t *testing.T) {
	var hits atomic.Int32
	srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); s.Success(w) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.New(t, srv.URL).Notify(ctx, Message(t))
	de := deliveryError(t, err)
	require.True(t, de.Retryable)
	require.Zero(t, hits.Load(), "nothing is sent on a cancelled context")
}

func (s Suite) redirect(t *testing.T) {
	var hits atomic.Int32
	srv := s.serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Location", "/moved/"+s.Secret)
		w.WriteHeader(http.StatusFound)
	})
	err := s.New(t, srv.URL).Notify(context.Background(), Message(t))
	de := deliveryError(t, err)
	require.False(t, de.Retryable)
	require.Equal(t, notify.ReasonRedirect, de.Reason)
	require.Equal(t, int32(1), hits.Load(), "redirects are not followed")
	s.requireNoSecret(t, err)
}

func (s Suite) connectionReused(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(strings.Repeat("e", 64<<10))) // longer than what is recorded
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	n := s.New(t, srv.URL)
	for range 3 {
		require.Error(t, n.Notify(context.Background(), Message(t)))
	}
	require.Equal(t, int32(1), conns.Load(), "bodies are drained, so one connection serves every attempt")
}
