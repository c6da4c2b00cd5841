package notify_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// secretPath stands for the token a Slack or Discord webhook URL carries in its path.
const secretPath = "/services/T000/B000/FAKE-SECRET-123"

// answer is what the test receiver replies.
type answer struct {
	code    int
	headers map[string]string
	body    string
}

// post sends one request to a loopback receiver answering a and returns CheckResponse's verdict.
func post(t *testing.T, a answer, now time.Time) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.code)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	resp, err := notify.NewHTTPClient().Post(srv.URL+secretPath, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	return notify.CheckResponse(resp, now)
}

// TestCheckResponse covers every class of HTTP answer over a real connection: which statuses
// succeed, which are retried, and that Retry-After is read only where a retry follows.
func TestCheckResponse(t *testing.T) {
	t.Parallel()
	now := time.Now()
	long := strings.Repeat("a", notify.MaxResponseBytes) + "TAIL"
	tests := map[string]struct {
		answer     answer
		reason     notify.Reason // "" for success
		retryable  bool
		retryAfter time.Duration
		errText    string // part of the error's text
		response   string
	}{
		"200":                         {answer: answer{code: 200, body: "ok"}},
		"201 with a Location":         {answer: answer{code: 201, headers: map[string]string{"Location": "https://x.example/a"}}},
		"204":                         {answer: answer{code: 204}},
		"299":                         {answer: answer{code: 299}},
		"300":                         {answer: answer{code: 300}, reason: notify.ReasonRedirect, errText: "HTTP 300 Multiple Choices"},
		"301 to a secret URL":         {answer: answer{code: 301, headers: map[string]string{"Location": "https://hooks.example" + secretPath}}, reason: notify.ReasonRedirect, errText: "HTTP 301 redirect to https://hooks.example/<redacted> (redirects are not followed)"},
		"302 without a Location":      {answer: answer{code: 302}, reason: notify.ReasonRedirect, errText: "HTTP 302 Found"},
		"307 with a Retry-After":      {answer: answer{code: 307, headers: map[string]string{"Location": "/x", "Retry-After": "9"}}, reason: notify.ReasonRedirect, errText: "redirect to <redacted>"},
		"399":                         {answer: answer{code: 399}, reason: notify.ReasonRedirect},
		"400 with a body":             {answer: answer{code: 400, body: `{"error":"bad"}`}, reason: notify.ReasonClientError, errText: "HTTP 400 Bad Request", response: `{"error":"bad"}`},
		"400 with a Location":         {answer: answer{code: 400, headers: map[string]string{"Location": "https://x.example/a"}}, reason: notify.ReasonClientError, errText: "HTTP 400 Bad Request"},
		"400 with a Retry-After":      {answer: answer{code: 400, headers: map[string]string{"Retry-After": "9"}}, reason: notify.ReasonClientError},
		"401":                         {answer: answer{code: 401}, reason: notify.ReasonClientError},
		"404":                         {answer: answer{code: 404}, reason: notify.ReasonClientError},
		"407":                         {answer: answer{code: 407}, reason: notify.ReasonClientError},
		"408 with a Retry-After":      {answer: answer{code: 408, headers: map[string]string{"Retry-After": "7"}}, reason: notify.ReasonServerError, retryable: true, retryAfter: 7 * time.Second},
		"409":                         {answer: answer{code: 409}, reason: notify.ReasonClientError},
		"424":                         {answer: answer{code: 424}, reason: notify.ReasonClientError},
		"425":                         {answer: answer{code: 425}, reason: notify.ReasonServerError, retryable: true, errText: "HTTP 425 Too Early"},
		"426":                         {answer: answer{code: 426}, reason: notify.ReasonClientError},
		"428":                         {answer: answer{code: 428}, reason: notify.ReasonClientError},
		"429 with seconds":            {answer: answer{code: 429, headers: map[string]string{"Retry-After": "3"}}, reason: notify.ReasonRateLimited, retryable: true, retryAfter: 3 * time.Second},
		"429 with a date":             {answer: answer{code: 429, headers: map[string]string{"Retry-After": now.Add(time.Hour).UTC().Format(http.TimeFormat)}}, reason: notify.ReasonRateLimited, retryable: true, retryAfter: time.Hour - time.Duration(now.Nanosecond())},
		"429 with a huge Retry-After": {answer: answer{code: 429, headers: map[string]string{"Retry-After": "99999999999999999999"}}, reason: notify.ReasonRateLimited, retryable: true, retryAfter: notify.MaxRetryAfter},
		"429 without a Retry-After":   {answer: answer{code: 429}, reason: notify.ReasonRateLimited, retryable: true},
		"431":                         {answer: answer{code: 431}, reason: notify.ReasonClientError},
		"499":                         {answer: answer{code: 499}, reason: notify.ReasonClientError},
		"500":                         {answer: answer{code: 500}, reason: notify.ReasonServerError, retryable: true, errText: "HTTP 500 Internal Server Error"},
		"501":                         {answer: answer{code: 501}, reason: notify.ReasonServerError, retryable: true},
		"503 with a Retry-After":      {answer: answer{code: 503, headers: map[string]string{"Retry-After": "2"}}, reason: notify.ReasonServerError, retryable: true, retryAfter: 2 * time.Second},
		"599":                         {answer: answer{code: 599}, reason: notify.ReasonServerError, retryable: true},
		"a long answer is cut":        {answer: answer{code: 502, body: long}, reason: notify.ReasonServerError, retryable: true, response: long[:notify.MaxResponseBytes]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := post(t, tc.answer, now)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			var de *notify.DeliveryError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.answer.code, de.StatusCode)
			require.Equal(t, tc.reason, de.Reason)
			require.Equal(t, tc.retryable, de.Retryable)
			require.Equal(t, tc.retryAfter, de.RetryAfter, "Retry-After is read for retried answers only")
			require.Equal(t, tc.response, de.Response)
			require.Contains(t, err.Error(), tc.errText)
			require.NotContains(t, err.Error(), "FAKE-SECRET")
		})
	}
}

// TestClassifyStatusEveryCode: the classes hold for every status, not only the common ones.
func TestClassifyStatusEveryCode(t *testing.T) {
	t.Parallel()
	for code := 300; code < 1000; code++ {
		reason, retryable := notify.ClassifyStatus(code)
		switch {
		case code == 429:
			require.Equal(t, notify.ReasonRateLimited, reason, code)
			require.True(t, retryable, code)
		case code == 408 || code == 425 || code >= 500:
			require.Equal(t, notify.ReasonServerError, reason, code)
			require.True(t, retryable, code)
		case code < 400:
			require.Equal(t, notify.ReasonRedirect, reason, code)
			require.False(t, retryable, code)
		default:
			require.Equal(t, notify.ReasonClientError, reason, code)
			require.False(t, retryable, code)
		}
	}
}

// countingBody is an answer body of size bytes that counts what is read of it.
type countingBody struct {
	size, read int
	closed     bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.read >= b.size {
		return 0, io.EOF
	}
	n := min(len(p), b.size-b.read)
	b.read += n
	return n, nil
}

func (b *countingBody) Close() error { b.closed = true; return nil }

// TestCheckResponseDrainIsBounded: a receiver answering without end costs at most the recorded
// 1 KiB plus 1 MiB of draining, and the body is closed whatever the status.
func TestCheckResponseDrainIsBounded(t *testing.T) {
	t.Parallel()
	for _, code := range []int{200, 503} {
		body := &countingBody{size: 64 << 20}
		_ = notify.CheckResponse(&http.Response{StatusCode: code, Header: http.Header{}, Body: body}, time.Now())
		require.Equal(t, notify.MaxResponseBytes+1<<20, body.read, "status %d", code)
		require.True(t, body.closed, "status %d", code)
	}
	small := &countingBody{size: 5000}
	_ = notify.CheckResponse(&http.Response{StatusCode: 500, Header: http.Header{}, Body: small}, time.Now())
	require.Equal(t, 5000, small.read, "a short answer is read to its end")
}

// TestCheckResponseReusesTheConnection: the answer is drained, so the next attempt to the same
// receiver reuses the kept-alive connection instead of opening a new one.
func TestCheckResponseReusesTheConnection(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(bytes.Repeat([]byte("x"), 64<<10))
	}))
	t.Cleanup(srv.Close)
	client := notify.NewHTTPClient()
	var reused []bool
	for range 3 {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) },
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.Error(t, notify.CheckResponse(resp, time.Now()))
	}
	require.Equal(t, []bool{false, true, true}, reused)
}

// timeoutError is a net.Error that reports a timeout, like a read deadline on a connection,
// without being context.DeadlineExceeded.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestRequestError: a failed request is a timeout ("possibly delivered") when any of the three
// signs says so, and a network error otherwise; both are retried, and no URL token leaks.
func TestRequestError(t *testing.T) {
	t.Parallel()
	const rawURL = "https://hooks.example" + secretPath
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	t.Cleanup(cancel)
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	urlErr := func(err error) error { return &url.Error{Op: "Post", URL: rawURL, Err: err} }
	tests := map[string]struct {
		ctx    context.Context
		err    error
		reason notify.Reason
		is     error // the error chain keeps it
		text   string
	}{
		"the error is a deadline":              {context.Background(), urlErr(context.DeadlineExceeded), notify.ReasonTimeout, context.DeadlineExceeded, `timed out, possibly delivered: Post https://hooks.example/<redacted>: context deadline exceeded`},
		"the context's deadline passed":        {expired, urlErr(io.ErrUnexpectedEOF), notify.ReasonTimeout, io.ErrUnexpectedEOF, "timed out, possibly delivered"},
		"a net.Error that is a timeout":        {context.Background(), urlErr(&net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}), notify.ReasonTimeout, nil, "timed out, possibly delivered"},
		"a read deadline":                      {context.Background(), urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), notify.ReasonTimeout, os.ErrDeadlineExceeded, "timed out"},
		"a net.Error that is not a timeout":    {context.Background(), urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), notify.ReasonNetwork, syscall.ECONNREFUSED, "Post https://hooks.example/<redacted>: dial tcp: connection refused"},
		"a cancelled context is not a timeout": {cancelled, urlErr(context.Canceled), notify.ReasonNetwork, context.Canceled, "context canceled"},
		"a TLS failure":                        {context.Background(), urlErr(tls.AlertError(42)), notify.ReasonNetwork, nil, "bad certificate"},
		"an error without a URL":               {context.Background(), errors.New("boom"), notify.ReasonNetwork, nil, "boom"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := notify.RequestError(tc.ctx, tc.err)
			var de *notify.DeliveryError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.reason, de.Reason)
			require.True(t, de.Retryable)
			require.Zero(t, de.StatusCode)
			require.Zero(t, de.RetryAfter)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.Contains(t, err.Error(), tc.text)
			require.NotContains(t, err.Error(), "FAKE-SECRET")
		})
	}
}

// TestRequestErrorOverLoopback: the same classes from real requests, the way the adapters meet
// them: a receiver that never answers within the attempt's deadline, and a closed port.
func TestRequestErrorOverLoopback(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := map[string]struct {
		url    string
		reason notify.Reason
		text   string
	}{
		"no answer before the deadline": {hanging.URL + secretPath, notify.ReasonTimeout, "timed out, possibly delivered"},
		"connection refused":            {closed.URL + secretPath, notify.ReasonNetwork, "connection refused"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tc.url, strings.NewReader("{}"))
			require.NoError(t, err)
			resp, err := notify.NewHTTPClient().Do(req)
			if resp != nil {
				_ = resp.Body.Close()
			}
			require.Error(t, err)
			err = notify.RequestError(ctx, err)
			var de *notify.DeliveryError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tc.reason, de.Reason, "%v", err)
			require.True(t, de.Retryable)
			require.Contains(t, err.Error(), tc.text)
			require.Contains(t, err.Error(), "/<redacted>")
			require.NotContains(t, err.Error(), "FAKE-SECRET")
		})
	}
}

// TestNewHTTPClientDoesNotFollowRedirects: a 3xx is the answer (and so a failed attempt), the
// redirect's target is never asked, and the transport's waits are the documented ones.
func TestNewHTTPClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	t.Cleanup(elsewhere.Close)
	for _, code := range []int{301, 302, 303, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+secretPath, code)
		}))
		resp, err := notify.NewHTTPClient().Post(srv.URL, "application/json", strings.NewReader("{}"))
		require.NoError(t, err)
		err = notify.CheckResponse(resp, time.Now())
		srv.Close()
		var de *notify.DeliveryError
		require.ErrorAs(t, err, &de)
		require.Equal(t, code, de.StatusCode)
		require.Equal(t, notify.ReasonRedirect, de.Reason)
		require.False(t, de.Retryable)
		require.NotContains(t, err.Error(), "FAKE-SECRET")
	}
	require.Zero(t, followed.Load(), "no redirect was followed")

	c := notify.NewHTTPClient()
	require.Zero(t, c.Timeout, "attempts are bounded by their context")
	tr, ok := c.Transport.(*http.Transport)
	require.True(t, ok)
	require.Equal(t, 10*time.Second, tr.TLSHandshakeTimeout)
	require.Zero(t, tr.ResponseHeaderTimeout, "the attempt's context bounds it")
	require.Equal(t, 32, tr.MaxIdleConnsPerHost)
	require.Equal(t, 90*time.Second, tr.IdleConnTimeout)
	require.NotSame(t, http.DefaultTransport, tr, "a clone: changing it leaves the default transport alone")
}
