package slack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeSlack speaks Slack's incoming-webhook protocol (POST /services/…, plain-text answers) and
// chat.postMessage (POST /api/chat.postMessage, form-encoded as slack-go sends it, JSON answers),
// enforces Slack's documented limits like Slack does (400 invalid_blocks / ok:false) and records
// every payload.
type fakeSlack struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	payloads []map[string]any
	agents   []string // User-Agent of every request
	times    []time.Time
	// answer, when set, decides the answer to request n (1-based) before the limits are checked;
	// it returns false to fall through to the normal handling.
	answer func(n int, w http.ResponseWriter, api bool) bool
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{token: "xoxb-FAKE-BOT-TOKEN"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) webhookURL() string { return f.srv.URL + "/services/T000/B000/FAKE-SECRET-123" }
func (f *fakeSlack) apiURL() string     { return f.srv.URL + "/api/" }

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.agents = append(f.agents, r.Header.Get("User-Agent"))
	f.mu.Unlock()
	api := strings.HasPrefix(r.URL.Path, "/api/")
	var payload map[string]any
	switch {
	case r.URL.Path == "/api/chat.postMessage":
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+f.token && r.PostForm.Get("token") != f.token {
			writeAPI(w, "invalid_auth")
			return
		}
		if r.PostForm.Get("channel") == "" {
			writeAPI(w, "channel_not_found")
			return
		}
		payload = map[string]any{"channel": r.PostForm.Get("channel"), "text": r.PostForm.Get("text")}
		for _, k := range []string{"blocks", "attachments"} {
			if v := r.PostForm.Get(k); v != "" {
				var x any
				if err := json.Unmarshal([]byte(v), &x); err != nil {
					writeAPI(w, "invalid_"+k)
					return
				}
				payload[k] = x
			}
		}
	case strings.HasPrefix(r.URL.Path, "/services/"):
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &payload) != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.times = append(f.times, time.Now())
	n := len(f.times)
	f.payloads = append(f.payloads, payload)
	answer := f.answer
	f.mu.Unlock()
	if answer != nil && answer(n, w, api) {
		return
	}
	if err := checkLimits(payload); err != nil {
		if api {
			writeAPI(w, "invalid_blocks")
		} else {
			http.Error(w, "invalid_blocks: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	if api {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.000100"}`, payload["channel"])
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func writeAPI(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"ok":false,"error":%q}`, code)
}

func (f *fakeSlack) userAgents() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.agents...)
}

func (f *fakeSlack) received() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.payloads...)
}

func (f *fakeSlack) at(i int) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.times[i]
}

// Slack's limits, restated independently of the adapter so the tests check it against Slack's
// rules rather than against itself.
func checkLimits(p map[string]any) error {
	if s, _ := p["text"].(string); utf8.RuneCountInString(s) > 40000 {
		return fmt.Errorf("text has %d characters", utf8.RuneCountInString(s))
	}
	var blocks []any
	if b, ok := p["blocks"].([]any); ok {
		blocks = append(blocks, b...)
	}
	atts, _ := p["attachments"].([]any)
	for _, a := range atts {
		if am, ok := a.(map[string]any); ok {
			if b, ok := am["blocks"].([]any); ok {
				blocks = append(blocks, b...)
			}
		}
	}
	if len(blocks) > 50 {
		return fmt.Errorf("%d blocks", len(blocks))
	}
	text := func(o any) string {
		m, _ := o.(map[string]any)
		s, _ := m["text"].(string)
		return s
	}
	for i, b := range blocks {
		m, _ := b.(map[string]any)
		switch m["type"] {
		case "section":
			if n := utf8.RuneCountInString(text(m["text"])); n > 3000 {
				return fmt.Errorf("block %d: section text has %d characters", i, n)
			}
			fields, _ := m["fields"].([]any)
			if len(fields) > 10 {
				return fmt.Errorf("block %d: %d fields", i, len(fields))
			}
			for _, f := range fields {
				if n := utf8.RuneCountInString(text(f)); n > 2000 {
					return fmt.Errorf("block %d: field has %d characters", i, n)
				}
			}
		case "header":
			if n := utf8.RuneCountInString(text(m["text"])); n > 150 {
				return fmt.Errorf("block %d: header has %d characters", i, n)
			}
		case "context":
			if els, _ := m["elements"].([]any); len(els) > 10 {
				return fmt.Errorf("block %d: %d context elements", i, len(els))
			}
		}
	}
	return nil
}

// mrkdwnTexts returns every string Slack would read as mrkdwn or text in a payload.
func mrkdwnTexts(p map[string]any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, v := range x {
				if s, ok := v.(string); ok && (k == "text" || k == "fallback") {
					out = append(out, s)
				}
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(p)
	return out
}

// pings reports a Slack special mention or link the event text could have injected: "<!" or
// "<@" (other than Slack's own <!date^…> formatting the template adds).
func pings(s string) bool {
	s = strings.ReplaceAll(s, "<!date^", "")
	return strings.Contains(s, "<!") || strings.Contains(s, "<@") || strings.Contains(s, "<#")
}
