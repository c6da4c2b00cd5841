package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/notify"
)

// answer is what a receiver said to the test command's message: the HTTP status and the start
// of the body, or the SMTP reply. status 0: no answer was recorded (a file target, or no
// answer came).
type answer struct {
	status int
	body   string
}

// recorder is the test command's HTTP transport: it passes each request on to next and keeps
// the status and the first notify.MaxResponseBytes of the last answer, whether or not the target
// reads the body; the target still reads the whole answer as sent.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	last answer
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// A read error stays in resp.Body, so the target sees it after the head.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, notify.MaxResponseBytes))
	r.mu.Lock()
	r.last = answer{status: resp.StatusCode, body: string(head)}
	r.mu.Unlock()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return resp, nil
}

func (r *recorder) answer() answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// replyNotifier is a Notifier that returns the receiver's answer to an accepted message
// (the email target's SMTP reply, which no HTTP transport sees).
type replyNotifier interface {
	NotifyReply(ctx context.Context, msg *notify.Message) (string, error)
}

// notifyAnswer sends msg once through n and returns the receiver's answer as rec or n recorded
// it; on failure the *notify.DeliveryError has it too.
func notifyAnswer(ctx context.Context, n notify.Notifier, rec *recorder, msg *notify.Message) (answer, error) {
	if rn, ok := n.(replyNotifier); ok {
		reply, err := rn.NotifyReply(ctx, msg)
		if err != nil {
			return answer{}, err
		}
		code, _ := strconv.Atoi(reply[:min(3, len(reply))]) // "250 2.0.0 Ok: queued as 4F2A"
		return answer{status: code, body: reply}, nil
	}
	err := n.Notify(ctx, msg)
	return rec.answer(), err
}

// credentials returns the credentials in t's configuration, for notify.SecretForms: every
// notify.Secret, and what the type's config lists as notify.Credentialer (a webhook's URL and
// header values).
func credentials(t *config.Target) []string {
	var out []string
	secret := reflect.TypeFor[notify.Secret]()
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		case reflect.String:
			if v.Type() == secret {
				out = append(out, v.String())
			}
		}
	}
	walk(reflect.ValueOf(t))
	if c, ok := t.Adapter.(notify.Credentialer); ok {
		out = append(out, c.Credentials()...)
	}
	return out
}

// scrub removes every form of creds from an answer's text (notify.Scrub, as the targets do
// with their errors).
func scrub(text string, creds []string) string {
	if text == "" {
		return ""
	}
	return notify.Scrub(errors.New(text), notify.SecretForms(creds...)).Error()
}

// printable is an answer's body for one line of output: "(empty)" for none, trailing space
// and invalid UTF-8 (a cut rune) removed.
func printable(body string) string {
	body = strings.TrimRight(strings.ToValidUTF8(body, ""), " \t\r\n")
	if body == "" {
		return "(empty)"
	}
	return body
}
