package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// CheckResponse classifies an HTTP answer (docs/configuration.md, circuit breaker) and always
// drains and closes its body, reading at most MaxResponseBytes + 1 MiB of it: 2xx is success
// (nil); 408, 425, 429 and 5xx are retryable; 3xx (redirects are not followed) and other 4xx are
// permanent. The first MaxResponseBytes of the body go into the *DeliveryError, and Retry-After
// too when the answer is retried.
func CheckResponse(resp *http.Response, now time.Time) error {
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // drain so the connection is reused
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	de := &DeliveryError{StatusCode: code, Response: string(head), Err: fmt.Errorf("HTTP %d %s", code, http.StatusText(code))}
	de.Reason, de.Retryable = ClassifyStatus(code)
	if de.Retryable {
		de.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	if loc := resp.Header.Get("Location"); de.Reason == ReasonRedirect && loc != "" {
		de.Err = fmt.Errorf("HTTP %d redirect to %s (redirects are not followed)", code, RedactURL(loc))
	}
	return de
}

// ClassifyStatus classifies an HTTP status that is not 2xx: 429 is rate_limited and 408,
// 425 and 5xx server_error, all retryable; 3xx is a redirect and other codes client_error, both
// permanent.
func ClassifyStatus(code int) (Reason, bool) {
	// Ifs, not a tagless switch: coverage profiles leave case expressions out of every block,
	// so a mutation run would count their mutants as not covered (docs/security.md).
	if code == http.StatusTooManyRequests {
		return ReasonRateLimited, true
	}
	if code == http.StatusRequestTimeout || code == http.StatusTooEarly || code >= 500 {
		return ReasonServerError, true
	}
	if code >= 300 && code < 400 {
		return ReasonRedirect, false
	}
	return ReasonClientError, false
}

// RequestError classifies an error from http.Client.Do. A deadline after the request may have
// been sent is a timeout: "possibly delivered", retried by the backoff, never at once.
// Error texts carry redacted URLs only.
func RequestError(ctx context.Context, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = fmt.Errorf("%s %s: %w", uerr.Op, RedactURL(uerr.URL), uerr.Err)
	}
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || (errors.As(err, &nerr) && nerr.Timeout()) {
		return &DeliveryError{Err: fmt.Errorf("timed out, possibly delivered: %w", err), Reason: ReasonTimeout, Retryable: true}
	}
	return &DeliveryError{Err: err, Reason: ReasonNetwork, Retryable: true}
}

// RedactURL keeps a URL's scheme and host and hides its path, query and user info, which carry
// tokens for Slack and Discord webhooks: "https://hooks.slack.com/<redacted>".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<redacted>"
	}
	if u.Path == "" && u.RawQuery == "" && u.User == nil {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/<redacted>"
}

// urlInText finds URLs in texts.
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>]+`)

// RedactURLsIn applies RedactURL to every URL in s (an error text, a receiver's answer) that has
// a path, query, fragment or user info to hide; a bare scheme://host, or one already redacted
// ("https://host/<redacted>" stops at "<"), is left as it is.
func RedactURLsIn(s string) string {
	return urlInText.ReplaceAllStringFunc(s, func(m string) string {
		if u, err := url.Parse(m); err == nil && u.User == nil && u.RawQuery == "" && u.Fragment == "" && (u.Path == "" || u.Path == "/") {
			return m
		}
		return RedactURL(m)
	})
}

// NewHTTPClient returns the client HTTP targets share the shape of: no redirects followed (a 3xx
// is a failed attempt), bounded dial/TLS/header waits, keep-alive pooling, and no overall
// Timeout because each attempt's context carries delivery.timeout.
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = newDialer().DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 0 // the attempt context bounds it
	tr.MaxIdleConnsPerHost = 32
	tr.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newDialer bounds a connection attempt to 10 s (a receiver that drops SYNs) and probes
// kept-alive connections every 30 s.
func newDialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
}
