package bridgetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Post is one request a Receiver got.
type Post struct {
	Header http.Header
	Path   string
	Body   []byte
	At     time.Time
}

// Respond answers a Receiver's n-th request (0-based) instead of 200 OK.
type Respond func(n int, w http.ResponseWriter, r *http.Request)

// Receiver is an HTTP server on loopback that records every request and answers 200 OK unless
// told otherwise (Answer): a Slack, Discord or webhook receiver.
type Receiver struct {
	URL string // http://127.0.0.1:port

	mu      sync.Mutex
	posts   []Post
	respond Respond
}

// NewReceiver starts a Receiver closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	rc := &Receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// Answer makes respond answer the next requests (nil: 200 OK).
func (rc *Receiver) Answer(respond Respond) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.respond = respond
}

// ServeHTTP records the request and answers it.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n, respond := len(rc.posts), rc.respond
	rc.posts = append(rc.posts, Post{Header: r.Header.Clone(), Path: r.URL.Path, Body: body, At: time.Now()})
	rc.mu.Unlock()
	if respond != nil {
		respond(n, w, r)
	}
}

// Posts returns the requests received so far, in order.
func (rc *Receiver) Posts() []Post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Post(nil), rc.posts...)
}

// Count is the number of requests received so far.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.posts)
}

// Wait waits up to within for at least n requests and returns them; the test fails otherwise.
func (rc *Receiver) Wait(t testing.TB, n int, within time.Duration) []Post {
	t.Helper()
	require.Eventually(t, func() bool { return rc.Count() >= n }, within, 5*time.Millisecond,
		"the receiver got %d requests, want %d", rc.Count(), n)
	return rc.Posts()
}
