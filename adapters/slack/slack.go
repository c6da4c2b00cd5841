// Package slack is the Slack target (docs/configuration.md, targets): a Block Kit message posted to an incoming webhook,
// or with a bot token through chat.postMessage (github.com/slack-go/slack). Messages are fitted
// into Slack's limits before they are sent, user text arrives escaped for mrkdwn (see
// templates.SlackEscape), and every failure is classified for the delivery queue.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Notifier posts to one Slack incoming webhook or one channel.
type Notifier struct {
	cfg     Config
	client  *http.Client
	api     *slack.Client // bot-token mode; nil for incoming webhooks
	nowFunc func() time.Time
	// publicURL is server.public_url without its trailing slash: the base of the "Open event"
	// button ("" leaves the button out).
	publicURL string
	// secrets are the forms of the webhook URL and the bot token (notify.SecretForms) removed from
	// every error and recorded answer: a receiver or proxy may echo them.
	secrets []string
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a Notifier. client nil means notify.NewHTTPClient() (no redirects; each attempt is
// bounded by its context, unlike slack-go's default client, which has no timeout). Its requests,
// in both modes, carry "User-Agent: cortex-bridge/<version>". It fails when cfg is invalid or
// has neither webhook_url nor token.
func New(cfg *Config, client *http.Client, version string) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Credential() == "" {
		return nil, errors.New("webhook_url or token: required")
	}
	if client == nil {
		client = notify.NewHTTPClient()
	}
	client = withUserAgent(client, "cortex-bridge/"+version)
	n := &Notifier{cfg: *cfg, client: client, nowFunc: time.Now,
		secrets: notify.SecretForms(cfg.WebhookURL.Reveal(), cfg.Token.Reveal(), cfg.SigningSecret.Reveal())}
	if cfg.Token != "" {
		n.api = newAPI(cfg, client)
	}
	return n, nil
}

// newAPI is the slack-go client of bot-token mode: cfg.APIURL (default DefaultAPIURL) through
// client.
func newAPI(cfg *Config, client *http.Client) *slack.Client {
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	return slack.New(cfg.Token.Reveal(), slack.OptionHTTPClient(client), slack.OptionAPIURL(apiURL))
}

// Notify decodes msg.Body (Block Kit JSON from the template), fits it into Slack's limits and
// posts it. Its errors and recorded answers never hold the webhook URL's token or the bot token,
// even when the receiver echoes them (notify.Scrub).
func (n *Notifier) Notify(ctx context.Context, msg *notify.Message) error {
	return notify.Scrub(n.notify(ctx, msg), n.secrets)
}

func (n *Notifier) notify(ctx context.Context, msg *notify.Message) error {
	var m slack.WebhookMessage
	if err := json.Unmarshal(msg.Body, &m); err != nil {
		return &notify.DeliveryError{Err: fmt.Errorf("template output is not a Slack message: %w", err), Reason: notify.ReasonTemplate}
	}
	msg.Notes = append(msg.Notes, fit(&m)...)
	if m.Text == "" && (m.Blocks == nil || len(m.Blocks.BlockSet) == 0) && len(m.Attachments) == 0 {
		return &notify.DeliveryError{Err: errors.New("template rendered an empty Slack message"), Reason: notify.ReasonTemplate}
	}
	if n.api != nil {
		if n.cfg.SigningSecret != "" {
			msg.Notes = append(msg.Notes, n.addActions(&m, msg)...)
		}
		return n.postMessage(ctx, &m)
	}
	return n.postWebhook(ctx, &m)
}

// withUserAgent returns a copy of client whose requests carry ua (slack-go has no option for it,
// and Go's default names only Go).
func withUserAgent(client *http.Client, ua string) *http.Client {
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = userAgent{base: base, value: ua}
	return &c
}

type userAgent struct {
	base  http.RoundTripper
	value string
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not change the caller's request
	r.Header.Set("User-Agent", u.value)
	return u.base.RoundTrip(r)
}

// postWebhook posts with the bridge's own client rather than slack.PostWebhook, whose error
// drops Slack's answer (invalid_payload, channel_is_archived, …), which the attempt log keeps.
func (n *Notifier) postWebhook(ctx context.Context, m *slack.WebhookMessage) error {
	body, err := json.Marshal(m)
	if err != nil {
		return &notify.DeliveryError{Err: err, Reason: notify.ReasonTemplate}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.WebhookURL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return &notify.DeliveryError{Err: errors.New("cannot build a request for " + notify.RedactURL(n.cfg.WebhookURL.Reveal())), Reason: notify.ReasonConfig}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return notify.RequestError(ctx, err)
	}
	return notify.CheckResponse(resp, n.nowFunc())
}

// postMessage calls chat.postMessage with slack-go.
func (n *Notifier) postMessage(ctx context.Context, m *slack.WebhookMessage) error {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if m.Blocks != nil && len(m.Blocks.BlockSet) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks.BlockSet...))
	}
	if len(m.Attachments) > 0 {
		opts = append(opts, slack.MsgOptionAttachments(m.Attachments...))
	}
	if m.Username != "" {
		opts = append(opts, slack.MsgOptionUsername(m.Username))
	}
	_, _, err := n.api.PostMessageContext(ctx, n.cfg.Channel, opts...)
	if err == nil {
		return nil
	}
	var (
		rate     *slack.RateLimitedError
		apiErr   slack.SlackErrorResponse
		status   slack.StatusCodeError
		deadline = ctx.Err() != nil
	)
	switch {
	case errors.As(err, &rate):
		return &notify.DeliveryError{Err: errors.New("chat.postMessage: rate limited"), Reason: notify.ReasonRateLimited,
			Retryable: true, RetryAfter: rate.RetryAfter, StatusCode: http.StatusTooManyRequests}
	case errors.As(err, &apiErr):
		return apiError(apiErr)
	case errors.As(err, &status) && !deadline:
		return statusError(status)
	}
	return notify.RequestError(ctx, err)
}

// retryableAPIErrors are chat.postMessage's "ok": false answers that may succeed later
// (https://docs.slack.dev/reference/methods/chat.postMessage#errors); every other one
// (channel_not_found, not_in_channel, invalid_auth, msg_too_long, …) is permanent.
var retryableAPIErrors = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true, "team_added_to_org": true,
}

func apiError(e slack.SlackErrorResponse) error {
	de := &notify.DeliveryError{Err: fmt.Errorf("chat.postMessage: %s", e.Err), Reason: notify.ReasonClientError,
		StatusCode: http.StatusOK, Response: e.Err}
	if retryableAPIErrors[e.Err] {
		de.Retryable, de.Reason = true, notify.ReasonServerError
		if strings.HasPrefix(e.Err, "rate") {
			de.Reason = notify.ReasonRateLimited
		}
	}
	return de
}

// statusError classifies a non-200 answer to chat.postMessage like any HTTP answer.
func statusError(e slack.StatusCodeError) error {
	reason, retryable := notify.ClassifyStatus(e.Code)
	return &notify.DeliveryError{Err: fmt.Errorf("chat.postMessage: HTTP %s", e.Status), StatusCode: e.Code, Reason: reason, Retryable: retryable}
}
