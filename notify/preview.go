package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Preview is what a target would send for one message, without sending it: the request body
// byte for byte as the receiver would get it (for email, the whole message as written to the
// SMTP DATA command; for a file target, the line it appends), with the target's credentials
// replaced by "<redacted>". The dry run (`cortex-bridge route`, dryrun) prints it.
type Preview struct {
	ContentType string // the body's media type, e.g. "application/json"
	Body        []byte
}

// Previewer is a Notifier that can say exactly what it would send for msg without sending
// anything: HTTP targets run their own Notify against a CaptureClient, so the bytes shown are
// the bytes their send path builds (after fitting the platform's limits). msg.Notes gets what
// fitting changed, as Notify would add. Errors are those Notify would return before sending
// (a template output that is not the platform's payload, a message over a limit).
type Previewer interface {
	Preview(ctx context.Context, msg *Message) (*Preview, error)
}

// ConfigPreviewer is a TargetConfig that can preview a message without a Notifier: a type whose
// New opens or creates something (a file target opens its file) implements it, so a dry run
// shows its bytes while opening nothing. Preview is what Notifier.Preview would return.
type ConfigPreviewer interface {
	Preview(msg *Message) (*Preview, error)
}

// Capture records the one request a Notifier makes through a CaptureClient.
type Capture struct {
	mu          sync.Mutex
	contentType string
	body        []byte
	requests    int
}

// CaptureClient returns a client for previews: instead of sending, it records each request's
// body and Content-Type in a Capture and answers 200 with {"ok":true} (what the Slack and Discord
// libraries and every HTTP target read as success). It never opens a connection.
func CaptureClient() (*http.Client, *Capture) {
	c := &Capture{}
	return &http.Client{Transport: c}, c
}

// RoundTrip implements http.RoundTripper: it records req and answers without sending it.
func (c *Capture) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	c.mu.Lock()
	c.contentType, c.body = req.Header.Get("Content-Type"), body
	c.requests++
	c.mu.Unlock()
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(`{"ok":true}`)),
		Request: req, ContentLength: int64(len(`{"ok":true}`)),
	}, nil
}

// Preview returns the last request recorded, its body with each of forms (SecretForms of the
// target's credentials) replaced by "<redacted>"; nil when nothing was sent.
func (c *Capture) Preview(forms []string) *Preview {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.requests == 0 {
		return nil
	}
	return &Preview{ContentType: c.contentType, Body: RedactBytes(c.body, forms)}
}

// RedactBytes returns b with every one of forms (from SecretForms) replaced by "<redacted>".
func RedactBytes(b []byte, forms []string) []byte {
	for _, f := range forms {
		b = bytes.ReplaceAll(b, []byte(f), []byte(redacted))
	}
	return b
}

// PreviewHTTP runs send (a Notifier's own Notify, rebuilt on client, a CaptureClient) and
// returns what it would have sent, its body with each of forms (SecretForms of the target's
// credentials) redacted: the helper behind the HTTP targets' Preview. The error is send's.
func PreviewHTTP(ctx context.Context, forms []string, send func(ctx context.Context, client *http.Client) error) (*Preview, error) {
	client, c := CaptureClient()
	if err := send(ctx, client); err != nil {
		return nil, err
	}
	return c.Preview(forms), nil
}
