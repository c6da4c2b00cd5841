package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// Runtime is a valid Config turned into the running parts.
type Runtime struct {
	Config   *Config
	Targets  []*core.Target
	Router   *core.Router
	Renderer *core.Renderer
	Retry    core.RetryPolicy
	Findings core.FindingsPolicy
	Warnings []string // one per disabled target or not-yet-supported section

	previews []notify.Notifier // built for Preview only (BuildOptions.Preview); Close closes them
}

// BuildOptions are what Build needs besides the config.
type BuildOptions struct {
	Version string // for User-Agent
	// PublicURL is server.public_url, for links adapters add themselves (Slack's "Open event"
	// button); Build sets it from the config.
	PublicURL string
	Client    *http.Client // shared by HTTP targets; nil = notify.NewHTTPClient()
	Log       *slog.Logger
	// DryRun builds no notifiers (route, validate): nothing is opened or contacted.
	DryRun bool
	// Preflight, with DryRun, still checks what serve will open, creating nothing: every
	// enabled file target's path and the SQLite file can be created or appended to (see
	// file.CheckPath). Secret files and TLS files are read by Load and Validate anyway. It is
	// what `validate` runs, so a service's pre-start check fails on what would stop serve.
	Preflight bool
	// Preview, with DryRun, gives every enabled target its core.Target.Preview without making
	// anything that can send: the Notifier is built on notify.CaptureClient (it records requests
	// and never connects) unless the config previews on its own (notify.ConfigPreviewer: a file
	// target, whose Notifier would open its file). It is what `route` uses to print the bytes.
	Preview bool
}

// Build compiles the routes, loads the templates and renders every template a route or target
// uses against every sample event, then builds a Notifier per enabled target. All problems are
// returned together, named by key path and template file; for a Config that Parse returned with
// an error they include Parse's, so Build's error is then the complete list: a *BuildError,
// which also holds the warnings.
func Build(c *Config, opts BuildOptions) (*Runtime, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.PublicURL = c.Server.PublicURL
	// An invalid config still gets its templates checked (opening nothing), so that one run
	// lists every problem: Parse's, Validate's and the templates'.
	errs := slices.Clone(c.problems)
	if err := c.Validate(); err != nil {
		errs = append(errs, flatten(err)...)
	}
	if len(errs) > 0 {
		opts.DryRun = true
	}
	engine, err := templates.NewWithLimits(c.Templates.Dir, c.Templates.Limits())
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	rt := &Runtime{
		Config:   c,
		Renderer: &core.Renderer{Engine: engine, PublicURL: c.Server.PublicURL},
		Retry:    core.RetryPolicy{MaxAttempts: c.Delivery.MaxAttempts, Initial: c.Delivery.Backoff.Initial, Max: c.Delivery.Backoff.Max},
		Router:   &core.Router{Log: opts.Log},
		Findings: core.FindingsPolicy{Fingerprint: c.Findings.Fingerprint, Baseline: c.Findings.Baseline,
			Retention: c.Findings.Retention, Settle: c.Findings.Settle},
	}
	byName := map[string]*core.Target{}
	for i := range c.Targets {
		ct := &c.Targets[i]
		t := &core.Target{Name: ct.Name, Type: ct.Type, Template: ct.Template, Concurrency: ct.Concurrency,
			Disabled: ct.Disabled(), Fingerprint: ct.fingerprint(c)}
		if kind := ct.kind(); kind != nil {
			t.Format, t.Escape, t.Payload = kind.Format, kind.Escape, kind.Payload
		}
		if ct.RateLimit != nil {
			t.RateLimit, t.Burst = ct.RateLimit.PerSecond, ct.RateLimit.Burst
		}
		if w, ok := ct.Adapter.(notify.Warner); ok && t.Disabled == "" {
			for _, msg := range w.Warnings() {
				rt.Warnings = append(rt.Warnings, fmt.Sprintf("targets[%d].%s (target %s)", i, msg, t.Name))
			}
		}
		if t.Disabled != "" {
			rt.Warnings = append(rt.Warnings, fmt.Sprintf("target %s (%s) is disabled: %s", t.Name, t.Type, t.Disabled))
		} else if opts.DryRun && opts.Preflight {
			if err := ct.preflight(); err != nil {
				errs = append(errs, c.targetError(i, err))
			}
		} else if opts.DryRun && opts.Preview {
			var n notify.Notifier
			t.Preview, n = previewOnly(ct, opts)
			if n != nil {
				rt.previews = append(rt.previews, n)
			}
		} else if !opts.DryRun {
			n, err := NewNotifier(ct, opts)
			switch {
			case err != nil:
				errs = append(errs, c.targetError(i, err))
			case n == nil:
				t.Disabled = "delivery for type " + t.Type + " is not available in this version yet"
				rt.Warnings = append(rt.Warnings, fmt.Sprintf("target %s (%s) is disabled: %s", t.Name, t.Type, t.Disabled))
			default:
				t.Notifier = n
				if pv, ok := n.(notify.Previewer); ok {
					t.Preview = pv.Preview
				}
			}
		}
		rt.Targets = append(rt.Targets, t)
		byName[t.Name] = t
	}
	if opts.DryRun && opts.Preflight && c.Storage.Driver == "sqlite" {
		if err := file.CheckPath(c.Storage.DSN); err != nil {
			errs = append(errs, c.keyError("storage.dsn", err.Error()))
		}
	}
	for i := range c.Routes {
		cr := &c.Routes[i]
		route := &core.Route{Name: cr.Name, When: cr.rule, Targets: cr.Targets, Template: cr.Template, Stop: cr.Stop}
		c.holding(cr, route)
		rt.Router.Routes = append(rt.Router.Routes, route)
	}
	for i := range c.Digests {
		cd := &c.Digests[i]
		spec := &core.DigestSpec{Name: cd.Name, Spec: cd.Schedule + " " + cd.Timezone, Schedule: cd.schedule, Location: cd.location,
			Target: cd.Target, Template: cd.Template, SendEmpty: cd.SendEmpty, Threshold: cd.ScoreThreshold}
		if cd.rule != nil {
			spec.When = cd.rule
		}
		rt.Router.Digests = append(rt.Router.Digests, spec)
		if t := byName[cd.Target]; t != nil && t.Disabled != "" {
			spec.TargetDisabled = true
			rt.Warnings = append(rt.Warnings, fmt.Sprintf("digest %s: its target %s is disabled; its periods are closed but not sent", cd.Name, t.Name))
		}
	}
	for i, k := range c.API.Keys {
		if k.Key == "" {
			rt.Warnings = append(rt.Warnings, fmt.Sprintf("api.keys[%d] (%s): the key is empty (its variable unset?); this account cannot use the API or the dashboard", i, k.Account))
		}
	}
	errs = append(errs, rt.checkTemplates(byName)...)
	errs = append(errs, rt.checkAlertTemplates(byName)...)
	if len(errs) > 0 {
		rt.Close()
		return nil, &BuildError{Problems: errs, Warnings: rt.Warnings}
	}
	return rt, nil
}

// BuildError is Build's error: every problem found (Unwrap, as errors.Join would give them),
// and the warnings gathered alongside, so a report of an invalid config lists those too
// (validate).
type BuildError struct {
	Problems []error
	Warnings []string
}

func (e *BuildError) Error() string   { return errors.Join(e.Problems...).Error() }
func (e *BuildError) Unwrap() []error { return e.Problems }

// NewNotifier builds the adapter for target t (enabled or not: the test command uses it on one
// target); nil, nil for a type whose delivery is not built yet. On error the Notifier is nil
// (never an interface holding a nil pointer, whose Close would dereference it). An error
// names the target's key it is about ("path: mkdir …"), when it knows.
func NewNotifier(t *Target, opts BuildOptions) (notify.Notifier, error) {
	kind := t.kind()
	if kind == nil || t.Adapter == nil {
		return nil, nil
	}
	return kind.New(t.Adapter, notify.Deps{Client: opts.Client, Version: opts.Version, Concurrency: t.Concurrency, PublicURL: opts.PublicURL})
}

// previewOnly returns t's Preview for a dry run: the config's own (notify.ConfigPreviewer), else
// the Preview of a Notifier built on a client that never sends, with that Notifier (for
// Runtime.Close); nil when there is neither.
func previewOnly(t *Target, opts BuildOptions) (func(context.Context, *notify.Message) (*notify.Preview, error), notify.Notifier) {
	if cp, ok := t.Adapter.(notify.ConfigPreviewer); ok {
		return func(_ context.Context, msg *notify.Message) (*notify.Preview, error) { return cp.Preview(msg) }, nil
	}
	opts.Client, _ = notify.CaptureClient()
	n, err := NewNotifier(t, opts)
	if err != nil || n == nil {
		return nil, nil
	}
	if pv, ok := n.(notify.Previewer); ok {
		return pv.Preview, n
	}
	_ = notify.Close(n)
	return nil, nil
}

// checkTemplates renders, for every route and each of its targets (and each target on its own),
// the message it would send for every sample event and for a group of all of them.
func (rt *Runtime) checkTemplates(targets map[string]*core.Target) []error {
	var events []*event.Event
	var errs []error
	for _, typ := range samples.Types() {
		body, _ := samples.Get(typ)
		ev, err := event.Parse(body)
		if err != nil {
			return []error{fmt.Errorf("sample %s: %w", typ, err)}
		}
		events = append(events, ev)
	}
	seen := map[string]bool{}
	check := func(where string, t *core.Target, r *core.Route) {
		id := t.Type + "|" + t.Template
		if r != nil {
			id += "|" + r.Template
		}
		if seen[id] {
			return
		}
		seen[id] = true
		if _, err := rt.Renderer.TemplateKey(t, r, core.SampleMessage(events[0], t, r)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			return
		}
		// One error per distinct failure, naming every sample it happened on.
		var order []string
		failed := map[string][]string{}
		try := func(name string, msg *notify.Message) {
			if err := rt.Renderer.Render(msg, t, r); err != nil {
				if failed[err.Error()] == nil {
					order = append(order, err.Error())
				}
				failed[err.Error()] = append(failed[err.Error()], name)
			}
		}
		for _, ev := range events {
			try(ev.Type, core.SampleMessage(ev, t, r))
		}
		group := core.SampleMessage(events[0], t, r)
		group.Events = events
		try("group of all samples", group)
		for _, msg := range order {
			errs = append(errs, fmt.Errorf("%s: with sample %s: %s", where, strings.Join(failed[msg], ", "), msg))
		}
	}
	for i, r := range rt.Router.Routes {
		for _, name := range r.Targets {
			if targets[name] == nil {
				continue // Validate has named the unknown target
			}
			check(fmt.Sprintf("routes[%d] (%s) → target %s", i, r.Name, name), targets[name], r)
		}
	}
	for _, t := range rt.Targets {
		check("target "+t.Name, t, nil)
	}
	for i, d := range rt.Router.Digests {
		t := targets[d.Target]
		if t == nil || t.Format == notify.FormatNone {
			if t != nil {
				errs = append(errs, fmt.Errorf("digests[%d] (%s): target %s is a %s target, which cannot send digests", i, d.Name, t.Name, t.Type))
			}
			continue
		}
		msg := core.SampleMessage(events[0], t, nil)
		msg.Digest = notify.NewDigest(d.Name, events[0].Timestamp, events[len(events)-1].Timestamp, events, d.Threshold)
		msg.Digest.Template, msg.Events = d.Template, events
		if err := rt.Renderer.Render(msg, t, nil); err != nil {
			errs = append(errs, fmt.Errorf("digests[%d] (%s) → target %s: with the samples: %w", i, d.Name, t.Name, err))
		}
		empty := core.SampleMessage(events[0], t, nil)
		empty.Digest = notify.NewDigest(d.Name, events[0].Timestamp, events[0].Timestamp, nil, d.Threshold)
		empty.Digest.Template, empty.Events = d.Template, nil
		if err := rt.Renderer.Render(empty, t, nil); err != nil {
			errs = append(errs, fmt.Errorf("digests[%d] (%s) → target %s: with no events: %w", i, d.Name, t.Name, err))
		}
	}
	return errs
}

// TargetNames lists the configured targets' names.
func (rt *Runtime) TargetNames() []string {
	out := make([]string, len(rt.Targets))
	for i, t := range rt.Targets {
		out[i] = t.Name
	}
	return out
}

// Plan is what the dispatcher delivers with.
func (rt *Runtime) Plan() *core.Plan {
	return &core.Plan{Targets: rt.Targets, Router: rt.Router, Renderer: rt.Renderer, Retry: rt.Retry, Findings: rt.Findings}
}

// fingerprint hashes everything that configures the target, secrets included (they marshal
// redacted, so their values are hashed separately), so a reload can tell a changed target from
// an unchanged one.
func (t *Target) fingerprint(c *Config) string {
	b, err := json.Marshal(t)
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write(b)
	// server.public_url is part of what a notifier is built with (notify.Deps.PublicURL).
	h.Write([]byte{0})
	h.Write([]byte(c.Server.PublicURL))
	for _, s := range c.secretRefs() {
		if strings.HasPrefix(s.path, fmt.Sprintf("targets[%d].", slices.IndexFunc(c.Targets, func(x Target) bool { return x.Name == t.Name }))) {
			h.Write([]byte{0})
			h.Write([]byte(s.value.Reveal()))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Enabled reports whether a target exists and sends.
func (rt *Runtime) Enabled(name string) bool {
	for _, t := range rt.Targets {
		if t.Name == name {
			return t.Notifier != nil && t.Disabled == ""
		}
	}
	return false
}

// preflight checks, opening nothing, what building t's notifier will need from the machine
// (see notify.Preflighter).
func (t *Target) preflight() error {
	if p, ok := t.Adapter.(notify.Preflighter); ok {
		return p.Preflight()
	}
	return nil
}

// targetError is a *KeyError for err about targets[i]: under the key err starts with when that
// is one of the target's keys ("path: open …" → targets[2].path), else under targets[i].
func (c *Config) targetError(i int, err error) *KeyError {
	p := fmt.Sprintf("targets[%d]", i)
	key, rest, ok := strings.Cut(err.Error(), ": ")
	if root, _, _ := strings.Cut(key, "."); ok && targetKeys(&c.Targets[i])[root] {
		return c.keyError(p+"."+key, rest)
	}
	return c.keyError(p, err.Error())
}

// targetKeys are the YAML keys a target of t's type accepts.
func targetKeys(t *Target) map[string]bool {
	keys := map[string]bool{}
	for k := range yamlFields(reflect.TypeFor[Target]()) {
		keys[k] = true
	}
	if t.Adapter != nil {
		for k := range yamlFields(reflect.TypeOf(t.Adapter).Elem()) {
			keys[k] = true
		}
	}
	return keys
}

// Close releases what the notifiers hold (open audit files). It is safe on a Runtime whose
// build failed part-way: targets without a Notifier are skipped.
func (rt *Runtime) Close() {
	for _, t := range rt.Targets {
		_ = notify.Close(t.Notifier)
	}
	for _, n := range rt.previews {
		_ = notify.Close(n)
	}
}
