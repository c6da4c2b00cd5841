package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"maps"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// Target is one configured destination at run time.
type Target struct {
	Name     string
	Type     string          // a registered type's name (adapters.Types)
	Format   notify.Format   // what its templates render
	Payload  string          // the schema its messages follow (notify.TargetType.Payload)
	Notifier notify.Notifier // nil when Disabled
	// Disabled, when not "", says why the target sends nothing (e.g. "SLACK_WEBHOOK_URL is not
	// set"); routes skip it.
	Disabled string
	Template string // default template name for this target; "" = the built-ins
	// Escape, when set, is applied to every string field templates see at top level (.title,
	// .repo, .error, …), so user text is safe in the target's markup by default (Slack mrkdwn,
	// Discord markdown); .Data and .Event.Data stay raw for templates that need the original.
	Escape func(string) string
	// Concurrency is how many attempts to this target may run at once; 0 runs one at a time
	// (config fills in targets[].concurrency's default, docs/configuration.md).
	Concurrency int
	// RateLimit is the most attempts per second (0 = unlimited), with bursts of Burst.
	RateLimit float64
	Burst     int
	// Fingerprint identifies the target's configuration: on a reload, a target with the same
	// fingerprint keeps its worker pool and Notifier. "" never matches.
	Fingerprint string
	// Breaker opens the target's circuit after Failures consecutive failed attempts (network
	// errors, timeouts, 5xx; not 4xx or rate limits): its deliveries wait OpenFor, then one probe
	// decides whether the circuit closes again. Zero values: 5 failures, 30 s; Failures < 0
	// turns the breaker off.
	Breaker BreakerPolicy
	// Preview, when set, returns exactly what the target would send for a rendered message
	// without sending it (notify.Previewer); the dry run prints it. Nil when the target cannot
	// say (disabled, or a dry run built without previews).
	Preview func(ctx context.Context, msg *notify.Message) (*notify.Preview, error)
}

// BreakerPolicy configures a target's circuit breaker (sony/gobreaker).
type BreakerPolicy struct {
	Failures int
	OpenFor  time.Duration
}

// Built-in template names. Without a configured template a message for one event uses
// "<type>/<event type>" (e.g. slack/issue.critical) when it exists, a message for several events
// (a group) "<type>/group", and either falls back to "<type>/default". A bridge alert (bridge.*)
// tries "<type>/bridge" before the default, a derived finding event (finding.*) "<type>/finding".
const (
	DefaultTemplate = "default"
	GroupTemplate   = "group"
	AlertTemplate   = "bridge"
	FindingTemplate = "finding"
)

// Renderer renders messages with the template engine: the route's template, else the target's,
// else the built-in default of the target type. A webhook target without any template sends the
// original event body.
type Renderer struct {
	Engine    *templates.Engine
	PublicURL string
}

// TemplateKey returns the engine key for msg to target t via route rt; key is "" when the target
// uses no template (its adapter's default payload). It fails when a template named in the config
// does not exist for the target's type.
func (r *Renderer) TemplateKey(t *Target, rt *Route, msg *notify.Message) (string, error) {
	if t.Format == notify.FormatNone {
		return "", nil
	}
	name := t.Template
	if rt != nil && rt.Template != "" {
		name = rt.Template
	}
	if msg.Digest != nil {
		name = msg.Digest.Template
	}
	if name != "" {
		key, ok := r.Engine.Lookup(t.Type, name)
		if !ok {
			return "", fmt.Errorf("template %q not found for target %s (type %s): want %s/%s.tmpl or %s.tmpl in templates.dir",
				name, t.Name, t.Type, t.Type, name, name)
		}
		return key, nil
	}
	first := msg.Event.Type
	if len(msg.Events) > 1 {
		first = GroupTemplate
	}
	names := []string{first, DefaultTemplate}
	if IsBridgeEvent(msg.Event.Type) && len(msg.Events) <= 1 {
		names = []string{first, AlertTemplate, DefaultTemplate}
	}
	if IsFindingEvent(msg.Event.Type) && len(msg.Events) <= 1 {
		names = []string{first, FindingTemplate, DefaultTemplate}
	}
	for _, n := range names {
		if key, ok := r.Engine.Lookup(t.Type, n); ok {
			return key, nil
		}
	}
	return "", nil
}

// Render is RenderContext without a context (dry runs, load-time checks): the engine's step
// and output limits still bound it.
func (r *Renderer) Render(msg *notify.Message, t *Target, rt *Route) error {
	return r.RenderContext(context.Background(), msg, t, rt)
}

// RenderContext fills msg.Body (and Subject, HTML for email) for target t, within ctx and the
// engine's limits (templates.Limits). Errors name the template, also a render that exceeded a
// limit or outlived ctx.
func (r *Renderer) RenderContext(ctx context.Context, msg *notify.Message, t *Target, rt *Route) error {
	key, err := r.TemplateKey(t, rt, msg)
	if err != nil || key == "" {
		return err
	}
	out, err := r.Engine.RenderContext(ctx, key, r.Data(msg, t.Escape))
	if errors.Is(err, templates.ErrNoValue) && eventsSayAll(msg, out) {
		err = nil // the event's own text says "<nil>": not a nil printed by the template
	}
	if err != nil {
		return err
	}
	if t.Format == notify.FormatJSON {
		if !json.Valid(out.Body) {
			return fmt.Errorf("template %s (%s) did not render valid JSON: %.200s", key, r.Engine.Origin(key), out.Body)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, out.Body); err == nil {
			out.Body = compact.Bytes()
		}
	}
	msg.Body, msg.Subject, msg.HTML = out.Body, out.Subject, out.HTML
	return nil
}

// eventsSayAll reports whether every nil marker in out also appears in msg's events.
func eventsSayAll(msg *notify.Message, out *templates.Output) bool {
	for _, m := range templates.NilMarkers {
		shown := bytes.Contains(out.Body, []byte(m)) || strings.Contains(out.Subject, m) ||
			strings.Contains(out.HTML, html.EscapeString(m))
		if shown && !eventsSay(msg, m) {
			return false
		}
	}
	return true
}

// eventsSay reports whether any event of msg contains text.
func eventsSay(msg *notify.Message, text string) bool {
	for _, ev := range msg.Events {
		if bytes.Contains(ev.Raw, []byte(text)) {
			return true
		}
	}
	return msg.Event != nil && bytes.Contains(msg.Event.Raw, []byte(text))
}

// Data is what templates see (README.md, Templates): .Event, .Data (= .Event.Data), every known data field
// at top level (nil when the event lacks it; strings passed through escape when it is set) with
// .repo, and .Route, .Target, .PublicURL, .Events (each like the top level, for groups and
// digests), .Digest, and .Group (the *GroupRun of a fired group, with Count; nil otherwise).
// Each event's .Scan is its scan context from msg.Scans (an event.Scan; nil when unknown), and
// .repo_url, .branch and .commit an event lacks are taken from it. .Raw holds the same top-level
// fields unescaped (with the scan's values filled in), for the link functions
// (templates/links.go), which need the original text: {{ slack_link .Raw.repo_url "" }}.
func (r *Renderer) Data(msg *notify.Message, escape func(string) string) map[string]any {
	d := eventData(msg.Event, escape, msg.Scans)
	d["Route"], d["Target"], d["PublicURL"] = msg.Route, msg.Target, r.PublicURL
	events := make([]map[string]any, len(msg.Events))
	for i, ev := range msg.Events {
		events[i] = eventData(ev, escape, msg.Scans)
	}
	d["Events"] = events
	d["Digest"] = msg.Digest
	d["Group"] = msg.Group
	return d
}

var shortcutNames = func() []string {
	var out []string
	for _, f := range event.ShortcutFields() {
		out = append(out, f.Name)
	}
	return out
}()

func eventData(ev *event.Event, escape func(string) string, scans map[string]event.Scan) map[string]any {
	d := make(map[string]any, len(shortcutNames)+9)
	for _, n := range shortcutNames {
		d[n] = ev.Data[n]
	}
	d["Scan"] = nil
	if sc, ok := scans[ev.String("scan_id")]; ok {
		d["Scan"] = &sc
		for name, v := range map[string]string{"repo_url": sc.RepoURL, "branch": sc.Branch, "commit": sc.Commit} {
			if s, _ := d[name].(string); s == "" && v != "" {
				d[name] = v
			}
		}
	}
	d["repo"] = nil
	if u, _ := d["repo_url"].(string); u != "" {
		d["repo"] = event.Repo(u)
	}
	raw := maps.Clone(d)
	if escape != nil {
		for k, v := range d {
			if s, ok := v.(string); ok {
				d[k] = escape(s)
			}
		}
	}
	d["Event"], d["Data"], d["Raw"] = ev, ev.Data, raw // .Data is short for .Event.Data
	return d
}

// SampleMessage builds the message a delivery of ev to t via rt would carry, for dry runs and
// load-time checks.
func SampleMessage(ev *event.Event, t *Target, rt *Route) *notify.Message {
	m := &notify.Message{DeliveryID: "dry-run", Attempt: 1, Target: t.Name, Event: ev, Events: []*event.Event{ev}}
	if rt != nil {
		m.Route = rt.Name
	}
	return m
}
