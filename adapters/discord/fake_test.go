package discord_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeDiscord is Discord's execute-webhook endpoint on loopback:
// POST <any prefix>/webhooks/{id}/{token}[?wait=true][&thread_id=…]. It checks the webhook,
// enforces Discord's message limits (counting runes, written independently of the adapter) and
// answers 400 with an error body shaped like Discord's when one is exceeded, records every
// request, and answers scripted replies (204/200, 400, 401, 404, 429, 500, slow) when given.
// Unlike Discord it also refuses a payload without "allowed_mentions":{"parse":[]}, so every
// accepted payload proves it was defused.
type fakeDiscord struct {
	srv   *httptest.Server
	id    string
	token string

	mu      sync.Mutex
	reqs    []fakeRequest
	replies []reply
	// hold, when set, is called before answering (to line up concurrent requests).
	hold func(r *http.Request)
}

type fakeRequest struct {
	At       time.Time
	Path     string
	Query    url.Values
	Header   http.Header
	Body     []byte
	Problems []string // limit violations; non-empty means the fake answered 400
}

// reply is one scripted answer; Delay > 0 waits that long (or until the client gives up).
type reply struct {
	Status int
	Body   string
	Header map[string]string
	Delay  time.Duration
}

func newFake(t *testing.T) *fakeDiscord {
	t.Helper()
	f := &fakeDiscord{id: "123", token: token}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the webhook URL of the fake, as a user would configure it.
func (f *fakeDiscord) URL() string { return f.srv.URL + "/api/webhooks/" + f.id + "/" + f.token }

// script queues replies for the next requests; after them the fake answers normally.
func (f *fakeDiscord) script(rs ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, rs...)
}

func (f *fakeDiscord) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.reqs...)
}

// last decodes the last request's payload.
func (f *fakeDiscord) last(t *testing.T) wirePayload {
	t.Helper()
	reqs := f.requests()
	if len(reqs) == 0 {
		t.Fatal("the fake Discord received nothing")
	}
	var p wirePayload
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &p); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	return p
}

var webhookRoute = regexp.MustCompile(`^(.*)/webhooks/([^/]+)/([^/]+)$`)

func (f *fakeDiscord) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := webhookRoute.FindStringSubmatch(r.URL.Path)
	switch {
	case r.Method != http.MethodPost:
		discordError(w, http.StatusMethodNotAllowed, 0, "405: Method Not Allowed", nil)
		return
	case m == nil || m[2] != f.id:
		discordError(w, http.StatusNotFound, 10015, "Unknown Webhook", nil)
		return
	case m[3] != f.token:
		discordError(w, http.StatusUnauthorized, 50027, "Invalid Webhook Token", nil)
		return
	}
	rec := fakeRequest{At: time.Now(), Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		rec.Problems = append(rec.Problems, "content type "+r.Header.Get("Content-Type"))
	} else {
		rec.Problems = validatePayload(body)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	var rp *reply
	if len(f.replies) > 0 {
		rp = &f.replies[0]
		f.replies = f.replies[1:]
	}
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		hold(r)
	}
	if rp != nil {
		if rp.Delay > 0 {
			select {
			case <-time.After(rp.Delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range rp.Header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rp.Status)
		_, _ = io.WriteString(w, rp.Body)
		return
	}
	if len(rec.Problems) > 0 {
		discordError(w, http.StatusBadRequest, 50035, "Invalid Form Body", rec.Problems)
		return
	}
	// Discord's own bucket headers on every answer (5 per 2 s for a webhook).
	w.Header().Set("X-RateLimit-Limit", "5")
	w.Header().Set("X-RateLimit-Remaining", "4")
	w.Header().Set("X-RateLimit-Reset-After", "2")
	if r.URL.Query().Get("wait") != "true" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var p map[string]any
	_ = json.Unmarshal(body, &p)
	msg := map[string]any{"id": "1199000000000000001", "type": 0, "channel_id": "1199000000000000000", "webhook_id": f.id,
		"content": p["content"], "embeds": p["embeds"], "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(msg)
}

// discordError writes Discord's error JSON; problems become its "errors" object, keyed by the
// field path as Discord does ({"embeds":{"0":{"title":{"_errors":[…]}}}}, flattened here).
func discordError(w http.ResponseWriter, status, code int, message string, problems []string) {
	body := map[string]any{"message": message, "code": code}
	if len(problems) > 0 {
		errs := map[string]any{}
		for _, p := range problems {
			path, msg, _ := strings.Cut(p, ": ")
			errs[path] = map[string]any{"_errors": []map[string]string{{"code": "BASE_TYPE_MAX_LENGTH", "message": msg}}}
		}
		body["errors"] = errs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// wirePayload is what the fake decodes; pointers tell absent from empty.
type wirePayload struct {
	Content         string          `json:"content"`
	Username        string          `json:"username"`
	AvatarURL       string          `json:"avatar_url"`
	AllowedMentions json.RawMessage `json:"allowed_mentions"`
	Embeds          []wireEmbed     `json:"embeds"`
}

type wireEmbed struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	Timestamp   string `json:"timestamp"`
	Color       *int   `json:"color"`
	Footer      *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Author *struct {
		Name string `json:"name"`
	} `json:"author"`
	Fields []struct {
		Name   string `json:"name"`
		Value  string `json:"value"`
		Inline bool   `json:"inline"`
	} `json:"fields"`
}

// embedText is Discord's count for the 6 000 total.
func (e wireEmbed) text() int {
	n := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
	if e.Footer != nil {
		n += utf8.RuneCountInString(e.Footer.Text)
	}
	if e.Author != nil {
		n += utf8.RuneCountInString(e.Author.Name)
	}
	for _, f := range e.Fields {
		n += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
	}
	return n
}

// validatePayload lists what Discord would refuse in an execute-webhook body
// (https://discord.com/developers/docs/resources/webhook#execute-webhook,
// https://discord.com/developers/docs/resources/message#embed-object-embed-limits), plus a
// missing or non-empty allowed_mentions.parse.
func validatePayload(body []byte) []string {
	var p wirePayload
	if err := json.Unmarshal(body, &p); err != nil {
		return []string{"_: " + err.Error()}
	}
	var probs []string
	limit := func(path, s string, max int) {
		if n := utf8.RuneCountInString(s); n > max {
			probs = append(probs, fmt.Sprintf("%s: Must be %d or fewer in length (got %d).", path, max, n))
		}
	}
	required := func(path, s string) {
		if strings.TrimSpace(s) == "" {
			probs = append(probs, path+": This field is required")
		}
	}
	var am struct {
		Parse *[]string `json:"parse"`
	}
	if len(p.AllowedMentions) == 0 || json.Unmarshal(p.AllowedMentions, &am) != nil || am.Parse == nil || len(*am.Parse) != 0 {
		probs = append(probs, fmt.Sprintf(`allowed_mentions: want {"parse":[]}, got %s`, p.AllowedMentions))
	}
	limit("content", p.Content, 2000)
	limit("username", p.Username, 80)
	if u := strings.ToLower(p.Username); strings.Contains(u, "discord") || strings.Contains(u, "clyde") {
		probs = append(probs, "username: Username cannot contain \"discord\" or \"clyde\"")
	}
	if p.Content == "" && len(p.Embeds) == 0 {
		probs = append(probs, "content: Cannot send an empty message")
	}
	if len(p.Embeds) > 10 {
		probs = append(probs, fmt.Sprintf("embeds: Must be 10 or fewer in length (got %d).", len(p.Embeds)))
	}
	total := 0
	for i, e := range p.Embeds {
		at := "embeds." + strconv.Itoa(i)
		limit(at+".title", e.Title, 256)
		limit(at+".description", e.Description, 4096)
		if e.Footer != nil {
			required(at+".footer.text", e.Footer.Text)
			limit(at+".footer.text", e.Footer.Text, 2048)
		}
		if e.Author != nil {
			required(at+".author.name", e.Author.Name)
			limit(at+".author.name", e.Author.Name, 256)
		}
		if len(e.Fields) > 25 {
			probs = append(probs, fmt.Sprintf("%s.fields: Must be 25 or fewer in length (got %d).", at, len(e.Fields)))
		}
		for j, f := range e.Fields {
			fa := at + ".fields." + strconv.Itoa(j)
			required(fa+".name", f.Name)
			required(fa+".value", f.Value)
			limit(fa+".name", f.Name, 256)
			limit(fa+".value", f.Value, 1024)
		}
		if e.URL != "" {
			if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(e.URL, " \t\n") {
				probs = append(probs, at+".url: Not a well formed URL.")
			}
		}
		if e.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
				probs = append(probs, at+".timestamp: Could not parse "+e.Timestamp)
			}
		}
		if e.Color != nil && (*e.Color < 0 || *e.Color > 0xFFFFFF) {
			probs = append(probs, at+".color: Int value should be less than or equal to 16777215.")
		}
		total += e.text()
	}
	if total > 6000 {
		probs = append(probs, fmt.Sprintf("embeds: Embed size exceeds maximum size of 6000 (got %d)", total))
	}
	return probs
}
