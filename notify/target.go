package notify

import (
	"io"
	"net/http"
)

// TargetType declares one kind of target (the type key of a targets[] entry): how its keys are
// decoded, defaulted and checked, what its templates render and how user text is escaped for
// them, its default concurrency and rate limit, and how its Notifier is built and released.
// Each adapter package exports its TargetType as Type; the list in package adapters is the only
// place that names them, and everything else (config loading, validation and build, template
// escaping, the dashboard) looks a type up there.
//
// Besides Validate, a TargetConfig may implement the optional interfaces below (Defaulter,
// Disabler, SecretFiler, PathResolver, Preflighter, TemplateDefaulter, DigestRefuser, Warner); a
// Notifier that holds resources implements io.Closer (see Close).
type TargetType struct {
	// Name is the value of the target's type key ("slack").
	Name string
	// NewConfig returns an empty config of the type. The target's keys other than the common
	// ones (name, type, template, concurrency, rate_limit) are decoded into it; its yaml tags are
	// the only other keys a target of the type accepts.
	NewConfig func() TargetConfig
	// New builds the Notifier from a config of NewConfig's type that passed Validate and is not
	// disabled. On error the Notifier is nil (see Built) and the error starts with the key it is
	// about, relative to the target ("path: mkdir …"), when there is one.
	New func(cfg TargetConfig, deps Deps) (Notifier, error)
	// Format is what the type's templates render.
	Format Format
	// Payload names the schema a rendered message follows when a viewer can draw it the way
	// its platform shows it (PayloadSlack, PayloadDiscord); "" for any other payload, which
	// viewers show as it is.
	Payload string
	// Escape, when set, makes user text safe in the type's markup before templates see it
	// (Slack mrkdwn, Discord markdown); nil when the payload is encoded anyway.
	Escape func(string) string
	// Concurrency is a target's attempts at once when it sets none (at least 1).
	Concurrency int
	// RateLimit (attempts a second) and Burst are a target's limit when it sets none, from the
	// platform's documented limit; 0: none.
	RateLimit float64
	Burst     int
}

// Payload schemas a viewer (the dashboard's previews) can draw as the platform would.
const (
	PayloadSlack   = "slack-blocks"   // a Slack message: text, Block Kit blocks, attachments
	PayloadDiscord = "discord-embeds" // a Discord execute-webhook body: content and embeds
)

// Format is the kind of payload a target type's templates render.
type Format int

// Payload formats.
const (
	FormatNone  Format = iota // the adapter builds its own payload (file)
	FormatJSON                // templates must render valid JSON (webhook, slack, discord)
	FormatEmail               // text body, "subject" block and optional HTML (email)
)

// TargetConfig is a target type's own keys. Validate reports every problem (errors.Join), each
// error starting with the key it is about, relative to the target ("smtp.port: must be 1–65535").
type TargetConfig interface {
	Validate() error
}

// Deps are what TargetType.New may use besides the config.
type Deps struct {
	Client      *http.Client // shared by HTTP targets; nil: NewHTTPClient()
	Version     string       // the bridge's version, for User-Agent
	Concurrency int          // the target's concurrency (attempts at once)
	// PublicURL is server.public_url without a trailing slash requirement ("" when unset): the
	// base of links an adapter adds itself, such as <public_url>/events/<id>.
	PublicURL string
}

// Defaulter is a TargetConfig that fills its unset keys; called before Validate.
type Defaulter interface{ WithDefaults() }

// Disabler is a TargetConfig that can be switched off by an empty credential: Disabled says why
// the target sends nothing ("webhook_url is empty"), or "" when it is usable. A disabled target
// is neither validated nor built, so a config can list a target whose variable is not set yet.
type Disabler interface{ Disabled() string }

// SecretFiler is a TargetConfig with secrets that also have a <key>_file form.
type SecretFiler interface{ SecretFiles() []SecretFile }

// SecretFile is one secret key and the file it may be read from.
type SecretFile struct {
	Key   string  // key relative to the target, e.g. "smtp.password"
	Value *Secret // the value, set from File when File is set
	File  string  // the <key>_file value; "" when unset
}

// PathResolver is a TargetConfig with file paths, which are relative to the config file's
// folder: Paths returns pointers to them, for the loader to rewrite.
type PathResolver interface{ Paths() []*string }

// Preflighter is a TargetConfig whose Notifier needs something of the machine (a writable
// path): Preflight checks it without creating or opening anything, for `validate`.
type Preflighter interface{ Preflight() error }

// TemplateDefaulter is a TargetConfig that names the template a target uses when it sets none.
type TemplateDefaulter interface{ DefaultTemplate() string }

// Credentialer is a TargetConfig holding credentials that are plain strings rather than Secret
// values (a webhook's URL, which can carry a token, and its header values, which can carry an API
// key): Credentials returns them so callers can scrub them from what they print, as the target's
// own errors do.
type Credentialer interface{ Credentials() []string }

// Warner is a TargetConfig with values that are valid but that some receivers refuse (an email
// address that needs SMTPUTF8): Warnings returns one message per value, each starting with its
// key relative to the target ("to[1]: …"), for `validate` and the startup log.
type Warner interface{ Warnings() []string }

// DigestRefuser is a TargetConfig whose receiver may not take a digest: RefusesDigests says
// why ("uses preset pagerduty, whose service …"), or "" when it takes them.
type DigestRefuser interface{ RefusesDigests() string }

// Built returns n as a Notifier, or a nil Notifier with err: never an interface holding a nil
// pointer, whose methods (Close) would dereference it.
func Built[N Notifier](n N, err error) (Notifier, error) {
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Close releases what n holds (the file target's open file) when it is an io.Closer; a nil n
// or one without resources is a no-op. It is the one way the bridge closes a Notifier.
func Close(n Notifier) error {
	if c, ok := n.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
