package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Answer is what a receiver said to one message: the HTTP status and the first
// MaxResponseBytes of the body, or an SMTP reply ("250 2.0.0 Ok: queued"). Status 0: nothing
// was recorded (a file target, or no answer came).
type Answer struct {
	Status int
	Body   string
}

// AnswerRecorder is an http.RoundTripper that passes each request on to Next (nil:
// http.DefaultTransport) and keeps the status and the first MaxResponseBytes of the last answer,
// whether or not the target reads the body; the target still reads the whole answer as sent.
// Targets keep a receiver's answer only when it refuses a message (DeliveryError.Response); a
// one-off send (`cortex-bridge test --target`) shows it for an accepted one too.
type AnswerRecorder struct {
	Next http.RoundTripper
	mu   sync.Mutex
	last Answer
}

// RoundTrip implements http.RoundTripper.
func (r *AnswerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	next := r.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// A read error stays in resp.Body, so the target sees it after the head.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	r.mu.Lock()
	r.last = Answer{Status: resp.StatusCode, Body: string(head)}
	r.mu.Unlock()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return resp, nil
}

// Last returns the last answer recorded, or the zero Answer.
func (r *AnswerRecorder) Last() Answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Replier is a Notifier that returns the receiver's answer to an accepted message: the email
// target's SMTP reply, which no HTTP transport sees.
type Replier interface {
	NotifyReply(ctx context.Context, msg *Message) (string, error)
}

// NotifyAnswer sends msg once through n and returns the receiver's answer: n's reply when it is
// a Replier, else what rec (the transport of n's HTTP client; nil: none) recorded. On failure
// the answer is in the returned *DeliveryError's Response.
func NotifyAnswer(ctx context.Context, n Notifier, rec *AnswerRecorder, msg *Message) (Answer, error) {
	if rn, ok := n.(Replier); ok {
		reply, err := rn.NotifyReply(ctx, msg)
		if err != nil {
			return Answer{}, err
		}
		code, _ := strconv.Atoi(reply[:min(3, len(reply))]) // "250 2.0.0 Ok: queued as 4F2A"
		return Answer{Status: code, Body: reply}, nil
	}
	err := n.Notify(ctx, msg)
	if rec == nil {
		return Answer{}, err
	}
	return rec.Last(), err
}
