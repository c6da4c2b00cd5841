package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cortexbridge/cortex-bridge/adapters"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/rules"
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// keyError makes a *KeyError for path with the line Parse recorded for it (or its parent).
func (c *Config) keyError(path, msg string) *KeyError {
	e := &KeyError{Path: path, Msg: msg}
	for p := path; p != "" && e.Line == 0; {
		e.Line = c.lines[p]
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return e
}

// Validate checks every value and reference and compiles every rule. All problems are returned
// together (errors.Join of *KeyError).
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.keyError(path, fmt.Sprintf(format, args...)))
	}
	wrap := func(prefix string, err error) {
		if err == nil {
			return
		}
		for _, e := range flatten(err) {
			k, msg, _ := strings.Cut(e.Error(), ": ")
			bad(prefix+"."+k, "%s", msg)
		}
	}

	c.validateFindings(bad)
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		bad("server.listen", "must be host:port, got %q", c.Server.Listen)
	}
	if (c.Server.TLS.CertFile == "") != (c.Server.TLS.KeyFile == "") {
		bad("server.tls", "set both cert_file and key_file, or neither")
	} else if c.Server.TLS.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(c.Server.TLS.CertFile, c.Server.TLS.KeyFile); err != nil {
			bad("server.tls.cert_file", "cannot load the key pair: %v", err)
		}
	}
	switch c.Storage.Driver {
	case "sqlite":
	case "postgres":
		if !strings.HasPrefix(c.Storage.DSN, "postgres://") && !strings.HasPrefix(c.Storage.DSN, "postgresql://") {
			bad("storage.dsn", "the postgres driver needs a postgres:// or postgresql:// URL") // the value may hold a password: not echoed
		}
	default:
		bad("storage.driver", "must be sqlite or postgres, got %q", c.Storage.Driver)
	}
	if c.Storage.Driver == "sqlite" && strings.ContainsAny(c.Storage.DSN, "?#") {
		bad("storage.dsn", "a SQLite file path must not contain ? or # (they would start URI parameters)")
	}
	// A retention shorter than 2 × ingest.tolerance is fine: the pruner keeps every event that
	// long anyway, so a replay stays a duplicate (docs/security.md).
	if c.Storage.Retention < 0 {
		bad("storage.retention", "must not be negative")
	}

	if !strings.HasPrefix(c.Ingest.Path, "/") {
		bad("ingest.path", "must start with /, got %q", c.Ingest.Path)
	}
	if len(c.Ingest.Secrets) == 0 {
		bad("ingest.secrets", "at least one secret required")
	}
	for i, s := range c.Ingest.Secrets {
		if strings.TrimSpace(s.Reveal()) == "" {
			bad(fmt.Sprintf("ingest.secrets[%d]", i), "must not be empty (is its variable set?)")
		}
	}
	positive := func(path string, ok bool) {
		if !ok {
			bad(path, "must be greater than 0")
		}
	}
	positive("ingest.tolerance", c.Ingest.Tolerance > 0)
	positive("ingest.max_body_bytes", c.Ingest.MaxBodyBytes > 0)
	if c.Ingest.MaxUnverifiedBytes < c.Ingest.MaxBodyBytes {
		bad("ingest.max_unverified_bytes", "must be at least ingest.max_body_bytes (%d), or no body of the largest size could be received", c.Ingest.MaxBodyBytes)
	}
	positive("ingest.rate_limit.per_second", c.Ingest.RateLimit.PerSecond > 0)
	positive("ingest.rate_limit.burst", c.Ingest.RateLimit.Burst > 0)
	if c.Ingest.MaxPending < -1 {
		bad("ingest.max_pending", "must be a number of deliveries, or -1 for no limit")
	}
	positive("delivery.timeout", c.Delivery.Timeout > 0)
	positive("delivery.max_attempts", c.Delivery.MaxAttempts > 0)
	positive("delivery.backoff.initial", c.Delivery.Backoff.Initial > 0)
	positive("delivery.drain_timeout", c.Delivery.DrainTimeout > 0)
	positive("templates.max_output_bytes", c.Templates.MaxOutputBytes > 0)
	positive("templates.max_render_steps", c.Templates.MaxRenderSteps > 0)
	positive("templates.max_render_time", c.Templates.MaxRenderTime > 0)
	if c.Delivery.Backoff.Max < c.Delivery.Backoff.Initial {
		bad("delivery.backoff.max", "must be at least backoff.initial (%s)", c.Delivery.Backoff.Initial)
	}

	targets := map[string]*Target{}
	for i := range c.Targets {
		t := &c.Targets[i]
		p := fmt.Sprintf("targets[%d]", i)
		switch {
		case t.Name == "":
			bad(p+".name", "required")
		case !namePattern.MatchString(t.Name):
			bad(p+".name", "%q: use letters, digits, '-', '_' or '.' (at most 64)", t.Name)
		case targets[t.Name] != nil:
			bad(p+".name", "%q is used by another target", t.Name)
		default:
			targets[t.Name] = t
		}
		if t.Type == "" {
			bad(p+".type", "required (%s)", typeNames())
		} else if t.kind() == nil {
			bad(p+".type", "unknown type %q (want %s)", t.Type, typeNames())
		}
		positive(p+".concurrency", t.Concurrency > 0)
		if t.RateLimit != nil {
			positive(p+".rate_limit.per_second", t.RateLimit.PerSecond > 0)
			if t.RateLimit.Burst < 0 {
				bad(p+".rate_limit.burst", "must not be negative")
			}
		}
		if t.Adapter != nil && t.Disabled() == "" {
			wrap(p, t.Adapter.Validate()) // a disabled target is checked once its credential is set
		}
	}

	intervals := c.validateTimeIntervals(bad)
	routes := map[string]bool{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			bad(p+".name", "required")
		case routes[r.Name]:
			bad(p+".name", "%q is used by another route", r.Name)
		}
		routes[r.Name] = true
		if strings.TrimSpace(r.When) == "" {
			bad(p+".when", "required (a rule such as 'true' or 'event == \"issue.critical\"')")
		} else if rule, err := rules.Compile(r.When); err != nil {
			bad(p+".when", "route %q: %v", r.Name, err)
		} else {
			r.rule = rule
		}
		if len(r.Targets) == 0 {
			bad(p+".targets", "at least one target required")
		}
		for j, name := range r.Targets {
			if targets[name] == nil {
				bad(fmt.Sprintf("%s.targets[%d]", p, j), "no target named %q%s", name, known(targets))
			}
		}
		c.validateHolding(r, p, intervals, bad)
	}

	digests := map[string]bool{}
	for i := range c.Digests {
		d := &c.Digests[i]
		p := fmt.Sprintf("digests[%d]", i)
		switch {
		case d.Name == "":
			bad(p+".name", "required")
		case !namePattern.MatchString(d.Name):
			bad(p+".name", "%q: use letters, digits, '-', '_' or '.' (at most 64)", d.Name)
		case digests[d.Name]:
			bad(p+".name", "%q is used by another digest", d.Name)
		}
		digests[d.Name] = true
		if t := targets[d.Target]; t == nil {
			bad(p+".target", "no target named %q%s", d.Target, known(targets))
		} else if r, ok := t.Adapter.(notify.DigestRefuser); ok && r.RefusesDigests() != "" {
			bad(p+".target", "target %q %s", d.Target, r.RefusesDigests())
		}
		loc, err := time.LoadLocation(d.Timezone)
		if err != nil {
			bad(p+".timezone", "unknown zone %q (want an IANA name such as Europe/Berlin)", d.Timezone)
		}
		d.location = loc
		if strings.TrimSpace(d.Schedule) == "" {
			bad(p+".schedule", `required (cron with 5 fields, e.g. "0 8 * * MON")`)
		} else if strings.Contains(d.Schedule, "TZ=") {
			bad(p+".schedule", "set the zone with timezone:, not CRON_TZ/TZ in the schedule")
		} else if sched, err := core.ParseSchedule(d.Schedule, loc); err != nil {
			bad(p+".schedule", "%v (want 5 fields: minute hour day-of-month month day-of-week)", err)
		} else {
			d.schedule = sched
		}
		if strings.TrimSpace(d.When) != "" {
			if rule, err := rules.Compile(d.When); err != nil {
				bad(p+".when", "digest %q: %v", d.Name, err)
			} else {
				d.rule = rule
			}
		}
		if d.ScoreThreshold < 0 || d.ScoreThreshold > 100 {
			bad(p+".score_threshold", "must be between 0 and 100")
		}
	}
	accounts, keys := map[string]bool{}, map[notify.Secret]bool{}
	for i, k := range c.API.Keys {
		p := fmt.Sprintf("api.keys[%d]", i)
		if k.Account == "" {
			bad(p+".account", "required")
		} else if accounts[k.Account] {
			bad(p+".account", "%q has another key already: one key per account", k.Account)
		}
		accounts[k.Account] = true
		if k.Key != "" && keys[k.Key] {
			bad(p+".key", "the same key as another account")
		}
		keys[k.Key] = true
		if len(k.Key) > 0 && len(k.Key) < 16 {
			bad(p+".key", "must be at least 16 characters")
		}
		if k.Role != "" && k.Role != RoleAdmin && k.Role != RoleTenant {
			bad(p+".role", "must be %q or %q, not %q", RoleAdmin, RoleTenant, k.Role)
		}
	}
	for i, cidr := range c.API.AllowedCIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			bad(fmt.Sprintf("api.allowed_cidrs[%d]", i), "not a CIDR range such as 10.20.0.0/16: %q", cidr)
		}
	}
	return errors.Join(errs...)
}

// typeNames lists the target types for messages: "slack, discord, email, webhook or file".
func typeNames() string {
	names := adapters.Names()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func known(targets map[string]*Target) string {
	var names []string
	for n := range targets {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return " (no targets are defined)"
	}
	return " (targets: " + strings.Join(names, ", ") + ")"
}

// Disabled says why target t sends nothing, or "" when it is usable: a target whose credential
// (its secret, URL or SMTP host; for a webhook preset its own key) is empty, typically because
// its variable is unset (see notify.Disabler).
func (t *Target) Disabled() string {
	if d, ok := t.Adapter.(notify.Disabler); ok {
		return d.Disabled()
	}
	return ""
}

// maxFindingsSettle bounds findings.settle: a comparison waits at most this long.
const maxFindingsSettle = time.Hour

// maxFingerprintFields bounds findings.fingerprint.
const maxFingerprintFields = 16

func (c *Config) validateFindings(bad func(path, format string, args ...any)) {
	f := c.Findings
	switch f.Baseline {
	case core.BaselineNotify, core.BaselineQuiet:
	default:
		bad("findings.baseline", "must be %s or %s, got %q", core.BaselineNotify, core.BaselineQuiet, f.Baseline)
	}
	if f.Retention <= 0 {
		bad("findings.retention", "must be positive, got %s", f.Retention)
	}
	if f.Settle < 0 || f.Settle > maxFindingsSettle {
		bad("findings.settle", "must be between 0s and %s, got %s", maxFindingsSettle, f.Settle)
	}
	if len(f.Fingerprint) > maxFingerprintFields {
		bad("findings.fingerprint", "at most %d fields, got %d", maxFingerprintFields, len(f.Fingerprint))
	}
	seen := map[string]bool{}
	for i, name := range f.Fingerprint {
		path := fmt.Sprintf("findings.fingerprint[%d]", i)
		switch {
		case name == "":
			bad(path, "must name a data field of issue.critical, e.g. rule_id or file")
		case seen[name]:
			bad(path, "%q is listed twice", name)
		case name == "fingerprint":
			bad(path, "data.fingerprint is used as it is when Cortex sends it; list the fields to hash instead")
		}
		seen[name] = true
	}
}
