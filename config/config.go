// Package config loads the bridge's YAML (docs/configuration.md): strict keys with line numbers, ${VAR} and
// ${VAR:-default} from the environment, <key>_file secrets, defaults, and validation whose every
// error names its key path. Build turns a valid Config into the running parts.
package config

import (
	"time"

	"github.com/prometheus/alertmanager/timeinterval"

	"github.com/cortexbridge/cortex-bridge/adapters"
	"github.com/cortexbridge/cortex-bridge/api"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
	"github.com/cortexbridge/cortex-bridge/templates"
	"github.com/cortexbridge/cortex-bridge/webhooks"
)

// Config is the whole file. Zero values are replaced by the defaults named on each field.
type Config struct {
	Server    Server      `yaml:"server"`
	Storage   Storage     `yaml:"storage"`
	Ingest    Ingest      `yaml:"ingest"`
	Delivery  Delivery    `yaml:"delivery"`
	Templates TemplateDir `yaml:"templates"`
	Targets   []Target    `yaml:"targets"`
	Routes    []Route     `yaml:"routes"`
	// TimeIntervals are named windows for routes' quiet hours (mute_time, active_time).
	TimeIntervals []TimeInterval `yaml:"time_intervals"`
	Digests       []Digest       `yaml:"digests"`
	API           API            `yaml:"api"`
	Findings      Findings       `yaml:"findings"`

	lines    map[string]int // key path → line, for error messages
	problems []error        // what Parse found before Validate (unknown keys, types, *_file)
}

// Findings is how scans are compared (docs/configuration.md, findings; docs/events.md, Findings).
type Findings struct {
	// Fingerprint lists the data fields of issue.critical whose values identify a finding
	// within its repository and branch, e.g. [rule_id, file]; default: rule_id (title when the
	// event has none) and file. A data.fingerprint sent by Cortex wins.
	Fingerprint []string `yaml:"fingerprint"`
	// Baseline is what the first completed scan of a repository and branch sends: notify
	// (default: finding.new for each finding) or quiet (nothing; its findings are recorded).
	Baseline string `yaml:"baseline"`
	// Retention: a finding fixed for longer is forgotten (default 2160h, 90 days). Findings
	// outlive storage.retention.
	Retention time.Duration `yaml:"retention"`
	// Settle is how long after a scan.completed its comparison runs, for issue.critical events
	// of the scan that arrive after it (default 5s; at most 1h).
	Settle time.Duration `yaml:"settle"`
}

// Server is the HTTP listener.
type Server struct {
	Listen    string `yaml:"listen"` // host:port; default 127.0.0.1:8080
	TLS       TLS    `yaml:"tls"`
	PublicURL string `yaml:"public_url"` // base URL for links in messages; optional
}

// TLS serves HTTPS when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Storage is where events and the delivery queue live.
type Storage struct {
	Driver    string        `yaml:"driver"`    // sqlite (default)
	DSN       string        `yaml:"dsn"`       // SQLite file path (relative to the config file); default data/cortex-bridge.db
	Retention time.Duration `yaml:"retention"` // default 720h; 0 after defaults is impossible, use a large value to keep long
}

// Ingest is the Cortex-facing endpoint.
type Ingest struct {
	Path string `yaml:"path"` // default /webhooks/cortex
	// Secrets verify X-Cortex-Signature; any one may match (rotation). Each must be non-empty.
	Secrets []notify.Secret `yaml:"secrets"`
	// SecretsFile names a file with one secret per line, added to Secrets.
	SecretsFile  string        `yaml:"secrets_file"`
	Tolerance    time.Duration `yaml:"tolerance"`      // max |now - event timestamp|; default 5m
	MaxBodyBytes int64         `yaml:"max_body_bytes"` // default 1048576 (1 MiB); also the gzip-decompressed size
	// MaxUnverifiedBytes bounds the bytes of request bodies being received whose signature is
	// not checked yet, all requests together, so forged requests cannot hold unbounded memory.
	// Default 16777216 (16 MiB); at least max_body_bytes.
	MaxUnverifiedBytes int64     `yaml:"max_unverified_bytes"`
	RateLimit          RateLimit `yaml:"rate_limit"`    // default 500/s, burst 1000
	StrictEvents       bool      `yaml:"strict_events"` // reject event types other than the six Cortex sends
	// MaxPending is the backpressure limit: while more deliveries than this wait in the queue
	// (pending or running, all targets), new events get 503 queue_full with Retry-After, so the
	// database cannot grow without bound behind a dead target. Default 1000000; -1: no limit.
	MaxPending int `yaml:"max_pending"`
}

// DefaultDrainTimeout is delivery.drain_timeout's default, whatever delivery.timeout is (a
// core.Dispatcher given none drains for its attempt timeout).
const DefaultDrainTimeout = 30 * time.Second

// DefaultMaxPending is ingest.max_pending's default.
const DefaultMaxPending = 1_000_000

// RateLimit is a token bucket: PerSecond tokens a second, at most Burst at once.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Delivery is the retry policy for every target.
type Delivery struct {
	Timeout     time.Duration `yaml:"timeout"`      // per attempt; default 30s
	MaxAttempts int           `yaml:"max_attempts"` // first try included; default 4
	Backoff     Backoff       `yaml:"backoff"`
	// DrainTimeout is how long running attempts may go on after SIGTERM before they are cut
	// off (their deliveries are then retried after the restart); default DefaultDrainTimeout.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// Backoff is exponential with jitter; a receiver's Retry-After wins when longer, capped at Max.
type Backoff struct {
	Initial time.Duration `yaml:"initial"` // default 5s
	Max     time.Duration `yaml:"max"`     // default 10m
}

// TemplateDir is where user templates override the built-ins.
type TemplateDir struct {
	// Dir defaults to "templates"; a relative path is relative to the config file's folder
	// (Options.Dir). A missing folder means no overrides.
	Dir string `yaml:"dir"`
	// MaxOutputBytes is the most bytes one render may write (body, subject, HTML, includes);
	// default templates.DefaultMaxOutputBytes (4 MiB).
	MaxOutputBytes int64 `yaml:"max_output_bytes"`
	// MaxRenderSteps is one render's work budget in steps (see templates.Limits); default
	// templates.DefaultMaxSteps (10 000 000).
	MaxRenderSteps int64 `yaml:"max_render_steps"`
	// MaxRenderTime bounds every render, previews and dry runs included; a delivery's render
	// also ends with its attempt (delivery.timeout, the drain). Default 10s.
	MaxRenderTime time.Duration `yaml:"max_render_time"`
}

// Limits returns the render limits of t.
func (t TemplateDir) Limits() templates.Limits {
	return templates.Limits{MaxOutputBytes: t.MaxOutputBytes, MaxSteps: t.MaxRenderSteps, MaxRenderTime: t.MaxRenderTime}
}

// Target is one destination. Name and Type are required; the other keys depend on Type and are
// decoded into the type's config (Adapter).
type Target struct {
	Name        string     `yaml:"name"`
	Type        string     `yaml:"type"`        // one of adapters.Types
	Template    string     `yaml:"template"`    // default template name for this target; a webhook preset's by default
	Concurrency int        `yaml:"concurrency"` // attempts at once; default: the type's (notify.TargetType.Concurrency)
	RateLimit   *RateLimit `yaml:"rate_limit"`  // optional per-target limit; default: the type's

	// Adapter holds the type's own keys: the *Config of the adapter package named by Type
	// (nil for an unknown type). AdapterConfig[*webhook.Config](t) returns it typed.
	Adapter notify.TargetConfig `yaml:"-"`
}

// kind returns the target's type, or nil when Type names none.
func (t *Target) kind() *notify.TargetType { return adapters.Lookup(t.Type) }

// AdapterConfig returns t's type-specific config as C (a pointer to an adapter Config, e.g.
// *email.Config), or nil when t is of another type.
func AdapterConfig[C notify.TargetConfig](t *Target) C {
	c, _ := t.Adapter.(C)
	return c
}

// Route sends events matching When to Targets.
type Route struct {
	Name     string   `yaml:"name"`
	When     string   `yaml:"when"` // expr rule (README.md, Rules)
	Targets  []string `yaml:"targets"`
	Template string   `yaml:"template"`
	Stop     bool     `yaml:"stop"` // later routes are not evaluated when this one matches
	// Group sends events with the same key as one message; Throttle sends at most one message
	// per key per interval. A route has at most one of them.
	Group    *Group    `yaml:"group"`
	Throttle *Throttle `yaml:"throttle"`
	// MuteTime and ActiveTime name time_intervals: the route is muted inside any MuteTime
	// interval and, when ActiveTime is set, outside all of its intervals. OnMute says what
	// happens to an event while muted: "hold" (default: sent when the window ends, as one
	// message) or "drop" (not sent on this route; other routes and digests still see it).
	MuteTime   []string `yaml:"mute_time"`
	ActiveTime []string `yaml:"active_time"`
	OnMute     string   `yaml:"on_mute"`

	rule    *rules.Rule // compiled by Validate
	closeOn *rules.Rule
	keys    []*rules.Key
}

// Group is a route's grouping window: the first matching event opens a group per key per
// target; it is sent Wait after its last event, at most MaxWait after its first, or at once
// when an event matching CloseOn arrives (that event need not match the route).
type Group struct {
	By      []string      `yaml:"by"`       // key expressions (rules syntax: scan_id, repo); none: one group per target
	Wait    time.Duration `yaml:"wait"`     // default 30s
	MaxWait time.Duration `yaml:"max_wait"` // default 5m; at least Wait
	CloseOn string        `yaml:"close_on"` // optional rule
}

// Throttle allows one message per Key per Interval per target; events in between are held and
// sent together when the interval ends.
type Throttle struct {
	Key      string        `yaml:"key"`      // key expression (rules syntax); default: one key per target
	Interval time.Duration `yaml:"interval"` // required
}

// TimeInterval names recurring windows for routes' mute_time and active_time, as Alertmanager's
// time_intervals: each entry of TimeIntervals has optional times (start_time, end_time as
// "HH:MM"), weekdays ("monday:friday"), days_of_month, months, years and a location (an IANA
// zone; default UTC). The interval contains a moment when any entry does.
type TimeInterval struct {
	Name          string                      `yaml:"name"`
	TimeIntervals []timeinterval.TimeInterval `yaml:"time_intervals"`
}

// Digest is a scheduled summary: every event matching When since the previous run, sent to
// Target at each activation of Schedule.
type Digest struct {
	Name     string `yaml:"name"`
	Schedule string `yaml:"schedule"` // cron, 5 fields ("0 8 * * MON") or @daily/@weekly/@every 1h
	Timezone string `yaml:"timezone"` // IANA zone the schedule is read in; default UTC
	When     string `yaml:"when"`     // rule choosing the events; default every event
	Target   string `yaml:"target"`
	Template string `yaml:"template"` // default "compliance-digest"
	// SendEmpty sends a digest for a period without events (compliance wants proof of silence).
	SendEmpty bool `yaml:"send_empty"`
	// ScoreThreshold lists repositories whose latest score is below it; default 70.
	ScoreThreshold float64 `yaml:"score_threshold"`

	schedule *core.ZoneSchedule // parsed by Validate
	location *time.Location
	rule     *rules.Rule
}

// DefaultDigestTemplate is the built-in digest template.
const DefaultDigestTemplate = "compliance-digest"

// API configures the management API (docs/api.md): webhooks registered per account.
type API struct {
	// Keys are the Bearer keys, one account each; without keys the API answers 401.
	Keys []APIKey `yaml:"keys"`
	// MaxWebhooksPerAccount caps registrations (default 10; the 11th gets 409 limit_reached).
	MaxWebhooksPerAccount int `yaml:"max_webhooks_per_account"`
	// AllowPrivateURLs lets registered webhooks reach loopback, private and link-local
	// addresses (default false: the SSRF guard refuses them at registration and at every dial).
	AllowPrivateURLs bool `yaml:"allow_private_urls"`
	// AllowedCIDRs are ranges registered webhooks may reach even though private (an intranet).
	AllowedCIDRs []string `yaml:"allowed_cidrs"`
	// RequireHTTPS refuses http:// webhook URLs (default true).
	RequireHTTPS *bool `yaml:"require_https"`
}

// HTTPSOnly reports api.require_https (default true).
func (a API) HTTPSOnly() bool { return a.RequireHTTPS == nil || *a.RequireHTTPS }

// APIKey is one account's Bearer key (a secret; also key_file).
type APIKey struct {
	Account string        `yaml:"account"`
	Key     notify.Secret `yaml:"key"`
	KeyFile string        `yaml:"key_file"`
	// Role is RoleTenant (the default, "": the account's own webhooks and deliveries) or
	// RoleAdmin (also POST /-/reload).
	Role string `yaml:"role"`
}

// Roles of api.keys[].role.
const (
	RoleTenant = "tenant"
	RoleAdmin  = "admin"
)

// WithDefaults fills every unset field with its default.
func (c *Config) WithDefaults() {
	setDefault(&c.Server.Listen, "127.0.0.1:8080")
	setDefault(&c.Storage.Driver, "sqlite")
	if c.Storage.Driver == "sqlite" {
		setDefault(&c.Storage.DSN, "data/cortex-bridge.db")
	}
	setDefault(&c.Storage.Retention, 720*time.Hour)
	setDefault(&c.Ingest.Path, "/webhooks/cortex")
	setDefault(&c.Ingest.Tolerance, api.DefaultTolerance)
	setDefault(&c.Ingest.MaxBodyBytes, api.DefaultMaxBodyBytes)
	setDefault(&c.Ingest.MaxUnverifiedBytes, api.DefaultMaxUnverifiedBytes)
	setDefault(&c.Ingest.RateLimit.PerSecond, api.DefaultRatePerSec)
	setDefault(&c.Ingest.RateLimit.Burst, api.DefaultRateBurst)
	setDefault(&c.Ingest.MaxPending, DefaultMaxPending)
	setDefault(&c.Delivery.Timeout, core.DefaultTimeout)
	setDefault(&c.Delivery.MaxAttempts, core.DefaultMaxAttempts)
	setDefault(&c.Delivery.Backoff.Initial, core.DefaultBackoffInitial)
	setDefault(&c.Delivery.Backoff.Max, core.DefaultBackoffMax)
	setDefault(&c.Delivery.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.Templates.Dir, "templates")
	setDefault(&c.Templates.MaxOutputBytes, templates.DefaultMaxOutputBytes)
	setDefault(&c.Templates.MaxRenderSteps, templates.DefaultMaxSteps)
	setDefault(&c.Templates.MaxRenderTime, templates.DefaultMaxRenderTime)
	setDefault(&c.API.MaxWebhooksPerAccount, webhooks.DefaultMaxWebhooksPerAccount)
	setDefault(&c.Findings.Baseline, core.BaselineNotify)
	setDefault(&c.Findings.Retention, core.DefaultFindingsRetention)
	setDefault(&c.Findings.Settle, core.DefaultFindingsSettle)
	for i := range c.Digests {
		d := &c.Digests[i]
		setDefault(&d.Timezone, "UTC")
		setDefault(&d.Template, DefaultDigestTemplate)
		setDefault(&d.ScoreThreshold, notify.DefaultScoreThreshold)
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		kind := t.kind()
		if kind == nil {
			setDefault(&t.Concurrency, 4) // Validate names the unknown type
			continue
		}
		setDefault(&t.Concurrency, kind.Concurrency)
		if t.RateLimit == nil && kind.RateLimit > 0 {
			t.RateLimit = &RateLimit{PerSecond: kind.RateLimit, Burst: kind.Burst}
		}
		if d, ok := t.Adapter.(notify.Defaulter); ok {
			d.WithDefaults()
		}
		if d, ok := t.Adapter.(notify.TemplateDefaulter); ok {
			setDefault(&t.Template, d.DefaultTemplate()) // a preset's template, e.g. webhook/pagerduty.tmpl
		}
	}
}

// APIKeys maps each account of api.keys to its key (accounts without a key are left out).
func (c *Config) APIKeys() map[string]string {
	out := map[string]string{}
	for _, k := range c.API.Keys {
		if k.Key != "" {
			out[k.Account] = k.Key.Reveal()
		}
	}
	return out
}

// APIAdmins lists the accounts of api.keys with role admin.
func (c *Config) APIAdmins() []string {
	var out []string
	for _, k := range c.API.Keys {
		if k.Role == RoleAdmin {
			out = append(out, k.Account)
		}
	}
	return out
}

// RestartKeys names the keys whose change from c to next only a restart applies: the
// listener, storage and the ingest path.
func (c *Config) RestartKeys(next *Config) []string {
	var out []string
	if c.Server.Listen != next.Server.Listen {
		out = append(out, "server.listen")
	}
	if c.Server.TLS != next.Server.TLS {
		out = append(out, "server.tls")
	}
	if c.Storage != next.Storage {
		out = append(out, "storage")
	}
	if c.Ingest.Path != next.Ingest.Path {
		out = append(out, "ingest.path")
	}
	if c.Delivery.Timeout != next.Delivery.Timeout || c.Delivery.DrainTimeout != next.Delivery.DrainTimeout {
		out = append(out, "delivery.timeout/drain_timeout")
	}
	if c.API.MaxWebhooksPerAccount != next.API.MaxWebhooksPerAccount {
		out = append(out, "api.max_webhooks_per_account")
	}
	return out
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
