package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// Notifier executes one Discord webhook.
type Notifier struct {
	cfg       Config
	endpoint  *endpoint
	client    *http.Client // rewrites discordgo's requests onto cfg.WebhookURL; no redirects
	userAgent string
	nowFunc   func() time.Time
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a Notifier. client nil means notify.NewHTTPClient(); its transport carries the
// requests, each attempt bounded by its context. version goes into the User-Agent. It fails
// when cfg is invalid or its webhook_url empty; errors never contain the token.
func New(cfg *Config, client *http.Client, version string) (*Notifier, error) {
	if cfg.WebhookURL == "" {
		return nil, errors.New("webhook_url: required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ep, err := parseWebhookURL(cfg.WebhookURL.Reveal())
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = notify.NewHTTPClient()
	}
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return &Notifier{
		cfg:      *cfg,
		endpoint: ep,
		client: &http.Client{
			Transport:     &transport{base: ep.base, next: next},
			CheckRedirect: noRedirect,
			Jar:           client.Jar,
			Timeout:       client.Timeout,
		},
		userAgent: fmt.Sprintf("DiscordBot (https://github.com/cortexbridge/cortex-bridge, %s) cortex-bridge/%s", version, version),
		nowFunc:   time.Now,
	}, nil
}

// session returns a discordgo session for one call. Each call has its own: discordgo serialises
// requests per URL behind a mutex and sleeps for its rate-limit buckets without looking at the
// context, which would hold back this target's other workers; the queue and the target's rate
// limiter own pacing and retries instead.
func (n *Notifier) session() *discordgo.Session {
	s, _ := discordgo.New("") // never fails; no token: webhook execution needs none
	s.Client = n.client
	s.UserAgent = n.userAgent
	s.ShouldRetryOnRateLimit = false // its retry sleeps without the context and hides attempts
	s.MaxRestRetries = 0             // same for 502
	s.StateEnabled = false
	s.LogLevel = discordgo.LogError - 1 // it would log through the standard logger
	return s
}

// Notify sends msg.Body (a Discord execute-webhook payload rendered by the template; nil means a
// minimal embed for msg.Event) with ?wait=true, after applying username/avatar_url, forcing
// "allowed_mentions":{"parse":[]} and fitting it into Discord's limits. Failures are
// *notify.DeliveryError: 2xx is success; 429 is retryable after Discord's retry_after (Global for
// a global limit); 404 (webhook deleted), 401, 403 and 400 (Discord's error JSON recorded) are
// permanent; 5xx, 408 and network errors retryable.
func (n *Notifier) Notify(ctx context.Context, msg *notify.Message) error {
	params, err := n.params(msg)
	if err != nil {
		return err
	}
	body, err := encode(params)
	if err != nil {
		return &notify.DeliveryError{Err: err, Reason: notify.ReasonTemplate}
	}
	ctx, ans := withAnswer(ctx)
	// What discordgo's WebhookExecute does, with the body encoded here (encode): its
	// WebhookParams would send "components": null.
	uri := discordgo.EndpointWebhookToken(n.endpoint.id, n.endpoint.token)
	q := url.Values{"wait": {"true"}}
	if n.cfg.ThreadID != "" {
		q.Set("thread_id", n.cfg.ThreadID)
	}
	uri += "?" + q.Encode()
	_, err = n.session().RequestRaw(http.MethodPost, uri, "application/json", body, uri, 0, discordgo.WithContext(ctx))
	return n.redact(n.classify(ctx, ans, err))
}

// wireParams is a payload as sent: discordgo.WebhookParams with components left out when there
// are none (its own field is encoded as "components": null, which Discord's API does not
// document as accepted).
type wireParams struct {
	*discordgo.WebhookParams
	Components []discordgo.MessageComponent `json:"components,omitempty"`
}

// encode returns the JSON body of p as Discord gets it.
func encode(p *discordgo.WebhookParams) ([]byte, error) {
	return json.Marshal(wireParams{WebhookParams: p, Components: p.Components})
}

// params decodes and fits the payload.
func (n *Notifier) params(msg *notify.Message) (*discordgo.WebhookParams, error) {
	var p discordgo.WebhookParams
	if msg.Body == nil {
		p = defaultParams(msg.Event)
	} else if err := json.Unmarshal(msg.Body, &p); err != nil {
		return nil, &notify.DeliveryError{Err: fmt.Errorf("the template's output is not a Discord webhook payload: %w", err), Reason: notify.ReasonTemplate}
	}
	if n.cfg.Username != "" {
		p.Username = n.cfg.Username
	}
	if n.cfg.AvatarURL != "" {
		p.AvatarURL = n.cfg.AvatarURL
	}
	// Event text may say @everyone or <@&role>: it is shown, never a ping. An empty, non-nil
	// slice, because discordgo encodes a nil one as "parse":null (= Discord's default parsing).
	p.AllowedMentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
	notes, err := fit(&p)
	msg.Notes = append(msg.Notes, notes...)
	if err != nil {
		return nil, &notify.DeliveryError{Err: fmt.Errorf("payload over Discord's limits: %w", err), Reason: notify.ReasonLimit}
	}
	return &p, nil
}

// apiError is Discord's error body (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json)
// and 429 body (https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit).
type apiError struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
	Global  bool   `json:"global"`
}

func (n *Notifier) classify(ctx context.Context, ans *answer, err error) error {
	if ans.status == 0 { // no answer: the request failed before or while it was sent
		if err == nil {
			return nil
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			c := *uerr
			c.URL = n.cfg.WebhookURL.Reveal() // discordgo's URL names discord.com; notify.RequestError redacts it
			err = &c
		}
		return notify.RequestError(ctx, err)
	}
	if ans.status >= 200 && ans.status < 300 {
		return nil // whatever discordgo thought of the body (a 204, or not a message object)
	}
	resp := &http.Response{StatusCode: ans.status, Header: ans.header, Body: io.NopCloser(bytes.NewReader(ans.body))}
	de := notify.AsDeliveryError(notify.CheckResponse(resp, n.nowFunc()))
	var body apiError
	_ = json.Unmarshal(ans.body, &body)
	text := fmt.Sprintf("HTTP %d %s", ans.status, http.StatusText(ans.status))
	if body.Message != "" {
		text += ": " + body.Message
		if body.Code != 0 {
			text += fmt.Sprintf(" (code %d)", body.Code)
		}
	}
	switch code := ans.status; {
	case code == http.StatusTooManyRequests:
		var rle *discordgo.RateLimitError
		if errors.As(err, &rle) && rle.RateLimit != nil && rle.TooManyRequests != nil && rle.RetryAfter > 0 {
			de.RetryAfter = rle.RetryAfter // the body's retry_after (fractional seconds) over Retry-After
		}
		de.Global = body.Global || strings.EqualFold(ans.header.Get("X-RateLimit-Global"), "true") ||
			strings.EqualFold(ans.header.Get("X-RateLimit-Scope"), "global")
		text += fmt.Sprintf(" (retry after %s", de.RetryAfter)
		if de.Global {
			text += ", global: every Discord target waits"
		}
		text += ")"
	case code == http.StatusNotFound:
		text += " — the webhook is gone (deleted in Discord, or a wrong URL)"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		text += " — the webhook token is not accepted"
	case code >= 300 && code < 400:
		text = de.Err.Error() // names the redirect's target, redacted
	}
	de.Err = errors.New(text)
	return de
}

// redact removes the webhook token and URL in every form notify.SecretForms knows from an error's
// text and recorded answer (C07), in case the receiver or a library echoed them.
func (n *Notifier) redact(err error) error {
	return notify.Scrub(err, n.secrets())
}

// secrets are the forms of the webhook token and URL kept out of errors, answers and previews.
func (n *Notifier) secrets() []string {
	return notify.SecretForms(n.endpoint.token, n.cfg.WebhookURL.Reveal())
}

// defaultParams is the payload for a message without a rendered body: one embed naming the
// event, its title and scan.
func defaultParams(ev *event.Event) discordgo.WebhookParams {
	title := ev.Type
	if t := ev.String("title"); t != "" {
		title += ": " + t
	}
	sev := ev.String("severity")
	if sev == "" {
		sev = ev.Type
	}
	e := &discordgo.MessageEmbed{
		Title:       templates.DiscordEscape(title),
		Description: templates.DiscordEscape(ev.String("description") + ev.String("error")),
		Color:       templates.ColorInt(templates.SeverityColor(sev)),
		Footer:      &discordgo.MessageEmbedFooter{Text: "Cortex Bridge · " + ev.ID},
		Timestamp:   ev.Timestamp.UTC().Format(time.RFC3339),
	}
	for _, f := range []struct{ name, key string }{{"Repository", "repo_url"}, {"Scan", "scan_id"}, {"File", "file"}} {
		if v := ev.String(f.key); v != "" {
			e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: f.name, Value: templates.DiscordEscape(v), Inline: true})
		}
	}
	return discordgo.WebhookParams{Embeds: []*discordgo.MessageEmbed{e}}
}
