package slack

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Limits and budgets of the interactions endpoint.
const (
	// MaxInteractionBytes bounds an interaction request's body: Slack sends the whole message
	// back (up to 50 blocks of 3 000 characters, form-encoded), well under 1 MiB.
	MaxInteractionBytes = 1 << 20
	// actionBudget bounds the recording of a click, so that the answer comes within Slack's 3
	// seconds (https://docs.slack.dev/interactivity/handling-user-interaction#acknowledgment_response).
	actionBudget = 2 * time.Second
	// updateBudget bounds the message update through response_url, made after the answer.
	updateBudget = 30 * time.Second
)

// Actions is what a click does (silences.Service, adapted by the bridge). Errors are logged,
// never shown to the user beyond "could not record".
type Actions interface {
	// Acknowledge records that the Slack user (id, name) acknowledged event eventID.
	Acknowledge(ctx context.Context, eventID, userID, userName string) error
	// Mute silences the finding of event eventID for d on behalf of the user and returns when
	// the silence expires.
	Mute(ctx context.Context, eventID, userID, userName string, d time.Duration) (until time.Time, err error)
}

// Interactions serves POST /slack/interactions, the Request URL of the Slack app's
// Interactivity (docs/configuration.md, Slack buttons). A request must carry Slack's v0
// signature by one of Secrets (X-Slack-Signature over "v0:<X-Slack-Request-Timestamp>:<body>",
// the timestamp within 5 minutes, compared in constant time: slack.NewSecretsVerifier);
// otherwise it gets 401 and changes nothing. A click is recorded before the answer (within
// actionBudget), then the original message is updated through its response_url.
type Interactions struct {
	// Secrets returns the signing secrets of the configured Slack targets (read per request, so
	// a reload applies at once).
	Secrets func() []string
	// APIURLs returns the api_url of each configured Slack target (read per click; nil: none
	// set). A response_url is posted to only when it is https on slack.com or one of its
	// subdomains (Slack sends https://hooks.slack.com/actions/…), or on the scheme and host of one
	// of these (a proxy, a test receiver): a forged or altered callback cannot make the bridge
	// post to its own network (ResponseURLAllowed).
	APIURLs func() []string
	Actions Actions
	Client  *http.Client // for response_url (default notify.NewHTTPClient())
	Log     *slog.Logger // default: discarded

	once    sync.Once
	pending sync.WaitGroup // message updates under way
	refused rate.Sometimes // logs refused requests at most once a minute
}

func (h *Interactions) defaults() {
	h.once.Do(func() {
		if h.Client == nil {
			h.Client = notify.NewHTTPClient()
		}
		if h.Log == nil {
			h.Log = slog.New(slog.DiscardHandler)
		}
		h.refused = rate.Sometimes{Interval: time.Minute}
	})
}

// Wait blocks until the message updates started so far are done (tests, shutdown).
func (h *Interactions) Wait() { h.pending.Wait() }

// ServeHTTP answers one interaction request: 413 over MaxInteractionBytes, 401 unless signed
// (logged at most once a minute, without the request's headers), 400 without an interaction
// payload, else 200 once the click is recorded.
func (h *Interactions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.defaults()
	// The headers and the timestamp are checked before the body is read, so a request no
	// configured secret could have signed costs no body bytes.
	secrets := h.secrets()
	if len(secrets) == 0 || !signedHeaders(r.Header, secrets[0]) {
		h.refuse(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxInteractionBytes))
	if err != nil {
		http.Error(w, fmt.Sprintf("body unreadable or over %d bytes", MaxInteractionBytes), http.StatusRequestEntityTooLarge)
		return
	}
	if !verified(r.Header, body, secrets) {
		h.refuse(w, r)
		return
	}
	form, err := url.ParseQuery(string(body))
	var cb slack.InteractionCallback
	if err == nil {
		err = json.Unmarshal([]byte(form.Get("payload")), &cb)
	}
	if err != nil {
		http.Error(w, "form field payload: not an interaction payload", http.StatusBadRequest)
		return
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		w.WriteHeader(http.StatusOK) // not ours to handle
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if status, ok := h.act(r.Context(), &cb, a); ok {
			w.WriteHeader(http.StatusOK)
			h.update(&cb, status)
			return
		}
	}
	w.WriteHeader(http.StatusOK) // the Open event link, or another app's button
}

// refuse answers 401 to a request that is unsigned, stale, or not signed by a configured
// signing_secret, and logs it at most once a minute.
func (h *Interactions) refuse(w http.ResponseWriter, r *http.Request) {
	h.refused.Do(func() {
		h.Log.Warn("slack: refused an interaction request: unsigned, stale, or not signed by a configured signing_secret (logged once a minute)",
			"remote", r.RemoteAddr)
	})
	http.Error(w, "X-Slack-Signature missing, stale or not by a configured signing_secret", http.StatusUnauthorized)
}

// secrets are the configured signing secrets that are set.
func (h *Interactions) secrets() []string {
	if h.Secrets == nil {
		return nil
	}
	var out []string
	for _, s := range h.Secrets() {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// signedHeaders reports whether header carries Slack's signature headers with a fresh
// timestamp (slack-go's check, which does not depend on the secret).
func signedHeaders(header http.Header, secret string) bool {
	_, err := slack.NewSecretsVerifier(header, secret)
	return err == nil
}

// verified reports whether body is signed by one of secrets; the headers were checked fresh.
func verified(header http.Header, body []byte, secrets []string) bool {
	for _, secret := range secrets {
		sv, err := slack.NewSecretsVerifier(header, secret)
		if err != nil {
			return false
		}
		_, _ = sv.Write(body)
		if sv.Ensure() == nil {
			return true
		}
	}
	return false
}

// status is what the message says after a click.
type status struct {
	text      string
	ephemeral bool // an error only the clicking user sees; the message is left as it is
}

// act records the click a, within actionBudget; ok is false for an action that is not ours.
func (h *Interactions) act(ctx context.Context, cb *slack.InteractionCallback, a *slack.BlockAction) (status, bool) {
	user := cmp.Or(cb.User.Name, cb.User.Username, cb.User.ID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionBudget)
	defer cancel()
	mention := "<@" + cb.User.ID + ">"
	switch d, mute := muteDuration(a.ActionID); {
	case a.ActionID == actionAck:
		if err := h.Actions.Acknowledge(ctx, a.Value, cb.User.ID, user); err != nil {
			return h.failed("acknowledge", a.Value, err), true
		}
		return status{text: fmt.Sprintf(":white_check_mark: Acknowledged by %s at %s", mention, time.Now().UTC().Format("2006-01-02 15:04 MST"))}, true
	case mute:
		until, err := h.Actions.Mute(ctx, a.Value, cb.User.ID, user, d)
		if err != nil {
			return h.failed("mute", a.Value, err), true
		}
		return status{text: fmt.Sprintf(":no_bell: Muted by %s until %s", mention, until.UTC().Format("2006-01-02 15:04 MST"))}, true
	}
	return status{}, false
}

func (h *Interactions) failed(what, eventID string, err error) status {
	h.Log.Warn("slack: a button click could not be recorded", "action", what, "event_id", eventID, "err", err)
	return status{text: "Cortex Bridge could not " + what + " this event (it may have been pruned, or storage is down); try again.", ephemeral: true}
}

// update posts st to the click's response_url after the answer: the original message with a
// status line above its buttons (replacing an earlier one), or an ephemeral error. Slack's
// response_url takes up to 5 posts within 30 minutes; a failure is retried a few times, then
// logged.
func (h *Interactions) update(cb *slack.InteractionCallback, st status) {
	target, err := url.Parse(cb.ResponseURL)
	if err != nil || !target.IsAbs() || (target.Scheme != "https" && target.Scheme != "http") {
		h.Log.Warn("slack: interaction without a usable response_url; the message is not updated")
		return
	}
	var bases []string
	if h.APIURLs != nil {
		bases = h.APIURLs()
	}
	if !ResponseURLAllowed(target, bases) {
		h.Log.Warn("slack: response_url is not on Slack's host nor a configured api_url's; the message is not updated",
			"host", target.Hostname())
		return
	}
	payload := map[string]any{"text": st.text, "response_type": "ephemeral", "replace_original": false}
	if !st.ephemeral {
		blocks, attachments := withStatus(cb.Message.Msg, st.text)
		payload = map[string]any{"replace_original": true, "text": cb.Message.Text, "blocks": blocks, "attachments": attachments}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		h.Log.Warn("slack: cannot encode the message update", "err", err)
		return
	}
	h.pending.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), updateBudget)
		defer cancel()
		_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, h.post(ctx, target.String(), body) },
			backoff.WithMaxTries(3), backoff.WithBackOff(backoff.NewExponentialBackOff()))
		if err != nil {
			h.Log.Warn("slack: updating the message through response_url failed", "err", notify.Scrub(err, notify.SecretForms(target.String())))
		}
	})
}

// ResponseURLAllowed reports whether u may be posted to as a click's response_url: https on
// slack.com or a subdomain of it, or the same scheme and host (with port) as one of apiURLs,
// the configured targets' api_url values.
func ResponseURLAllowed(u *url.URL, apiURLs []string) bool {
	host := strings.ToLower(u.Hostname())
	if u.Scheme == "https" && (host == "slack.com" || strings.HasSuffix(host, ".slack.com")) && (u.Port() == "" || u.Port() == "443") {
		return true
	}
	for _, raw := range apiURLs {
		if b, err := url.Parse(raw); err == nil && b.Scheme == u.Scheme && strings.EqualFold(b.Host, u.Host) {
			return true
		}
	}
	return false
}

func (h *Interactions) post(ctx context.Context, target string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("response_url: HTTP %d", resp.StatusCode)
	}
	return backoff.Permanent(fmt.Errorf("response_url: HTTP %d", resp.StatusCode))
}

// withStatus returns the blocks and attachments of m with a context block holding text just
// above the buttons (top level or in an attachment), replacing an earlier status block; a
// message without buttons gets it at the end of its blocks.
func withStatus(m slack.Msg, text string) ([]slack.Block, []slack.Attachment) {
	st := slack.NewContextBlock(statusBlockID, slack.NewTextBlockObject(slack.MarkdownType, text, false, false))
	blocks, placed := placeStatus(m.Blocks.BlockSet, st)
	attachments := slices.Clone(m.Attachments)
	for i := range attachments {
		var ok bool
		attachments[i].Blocks.BlockSet, ok = placeStatus(attachments[i].Blocks.BlockSet, st)
		placed = placed || ok
	}
	if !placed {
		blocks = append(blocks, st)
	}
	return blocks, attachments
}

// placeStatus drops an earlier status block from blocks and puts st above the actions block;
// placed is false when blocks have no actions block.
func placeStatus(blocks []slack.Block, st slack.Block) (out []slack.Block, placed bool) {
	out = make([]slack.Block, 0, len(blocks)+1)
	for _, b := range blocks {
		switch b.ID() {
		case statusBlockID:
			continue
		case actionsBlockID:
			if !placed {
				out, placed = append(out, st), true
			}
		}
		out = append(out, b)
	}
	return out, placed
}
