package discord

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// discordAPI is where discordgo sends every REST call ("https://discord.com/api/v9/").
var discordAPI = func() *url.URL {
	u, err := url.Parse(discordgo.EndpointAPI)
	if err != nil {
		panic(err)
	}
	return u
}()

// maxAnswerBytes bounds how much of an answer is read (discordgo reads bodies whole); a
// Discord message object is a few KiB.
const maxAnswerBytes = 1 << 20

// transport is a target's RoundTripper: it moves discordgo's request from
// https://discord.com/api/v9/<rest> onto the configured webhook URL's base (<base>/<rest>,
// the configured query first, discordgo's wait and thread_id over it), and records the answer
// for the attempt log before discordgo reads it. It touches no package state, so targets with
// different URLs run side by side.
type transport struct {
	base url.URL // configured URL up to "/webhooks/", with its query
	next http.RoundTripper
}

// answer is what the receiver said to one Notify call, recorded by the transport.
type answer struct {
	requests int
	status   int
	header   http.Header
	body     []byte // at most maxAnswerBytes
}

type answerKey struct{}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rest, ok := strings.CutPrefix(req.URL.Path, discordAPI.Path)
	if !ok || req.URL.Host != discordAPI.Host {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("discord: unexpected request to %s", req.URL.Host) // never the path: it holds the token
	}
	u := t.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + rest
	u.RawPath = ""
	q := t.base.Query()
	for k, v := range req.URL.Query() {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	out := req.Clone(req.Context())
	out.URL, out.Host = &u, ""

	ans, _ := req.Context().Value(answerKey{}).(*answer)
	if ans != nil {
		ans.requests++
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes)) // drain: the connection is reused
	resp.Body.Close()
	if err != nil {
		return nil, err // the answer was cut off: a timeout here is "possibly delivered"
	}
	if ans != nil {
		ans.status, ans.header, ans.body = resp.StatusCode, resp.Header.Clone(), body
	}
	// discordgo would sleep on X-RateLimit-* (ignoring the context) and fail on malformed ones;
	// the queue owns waiting, from what was recorded above.
	for k := range resp.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "X-Ratelimit-") {
			resp.Header.Del(k)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// noRedirect keeps a 3xx as the answer (redirects are not followed: docs/security.md).
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// withAnswer returns ctx carrying a fresh answer for the transport to fill.
func withAnswer(ctx context.Context) (context.Context, *answer) {
	a := &answer{}
	return context.WithValue(ctx, answerKey{}, a), a
}
