package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cortexbridge/cortex-bridge/notify"
)

// Preset names (Config.Preset). "" is the plain signed webhook.
const (
	PresetPagerDuty      = "pagerduty"
	PresetOpsgenie       = "opsgenie"
	PresetMSTeams        = "msteams"
	PresetMattermost     = "mattermost"
	PresetRocketChat     = "rocketchat"
	PresetGitHubDispatch = "github-dispatch"
	PresetGitLabPipeline = "gitlab-pipeline"
	PresetGenericJSON    = "generic-json"
	PresetCloudEvents    = "cloudevents"
)

// Fixed endpoints of the services that have one; Config.URL overrides them (a proxy, the
// Opsgenie EU instance https://api.eu.opsgenie.com/v2/alerts, GitHub Enterprise, self-managed
// GitLab, tests).
const (
	// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
	PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"
	// https://docs.opsgenie.com/docs/alert-api#create-alert
	OpsgenieURL = "https://api.opsgenie.com/v2/alerts"
	// https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event
	GitHubAPIURL = "https://api.github.com"
	// https://docs.gitlab.com/ee/ci/triggers/#use-a-webhook (POST /projects/:id/trigger/pipeline)
	GitLabAPIURL = "https://gitlab.com/api/v4"
)

// GitHubAPIVersion is the REST API version the github-dispatch preset asks for
// (https://docs.github.com/en/rest/about-the-rest-api/api-versions).
const GitHubAPIVersion = "2022-11-28"

// maxEventTypeLen is GitHub's limit on a repository dispatch's event_type
// (https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event).
const maxEventTypeLen = 100

// DefaultCloudEventsSource is the CloudEvents "source" when the target sets none.
const DefaultCloudEventsSource = "cortex-bridge"

// credential keys: what makes a target usable, by preset.
const (
	credSecret     = "secret"
	credURL        = "url"
	credRoutingKey = "routing_key"
	credAPIKey     = "api_key"
	credToken      = "token"
)

// preset is what one integration adds to the plain webhook: a default template, the credential
// that makes the target usable, the keys it takes, a default URL, headers and body fields set at
// send time (where the secrets go, so templates never see them).
type preset struct {
	name     string
	template string // default template name; "" sends the original event
	// credential is the key whose value enables the target (see Config.Disabled).
	credential string
	// keys are the preset-specific keys it accepts (besides url, secret, headers, preset).
	keys        []string
	contentType string
	// headers returns the headers the service's API expects (auth, API version).
	headers func(c *Config) map[string]string
	// fields returns the top-level body fields set at send time, over the template's.
	fields func(c *Config) map[string]string
	// retryable refines the classification of a failed answer (GitHub's rate-limit 403).
	retryable func(code int, h http.Header, now time.Time) (bool, time.Duration)
}

var presets = map[string]*preset{
	"":                {credential: credSecret},
	PresetGenericJSON: {name: PresetGenericJSON, credential: credSecret},
	PresetCloudEvents: {name: PresetCloudEvents, template: PresetCloudEvents, credential: credSecret, keys: []string{"source"},
		// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md#32-structured-content-mode
		contentType: "application/cloudevents+json; charset=utf-8",
		fields: func(c *Config) map[string]string {
			if c.Source == "" {
				return nil // the template's (DefaultCloudEventsSource unless overridden)
			}
			return map[string]string{"source": c.Source}
		}},
	PresetPagerDuty: {name: PresetPagerDuty, template: PresetPagerDuty, credential: credRoutingKey, keys: []string{"routing_key"},
		fields: func(c *Config) map[string]string { return map[string]string{"routing_key": c.RoutingKey.Reveal()} }},
	PresetOpsgenie: {name: PresetOpsgenie, template: PresetOpsgenie, credential: credAPIKey, keys: []string{"api_key"},
		headers: func(c *Config) map[string]string {
			return map[string]string{"Authorization": "GenieKey " + c.APIKey.Reveal()}
		}},
	PresetMSTeams:    {name: PresetMSTeams, template: PresetMSTeams, credential: credURL},
	PresetMattermost: {name: PresetMattermost, template: PresetMattermost, credential: credURL},
	PresetRocketChat: {name: PresetRocketChat, template: PresetRocketChat, credential: credURL},
	PresetGitHubDispatch: {name: PresetGitHubDispatch, template: PresetGitHubDispatch, credential: credToken, keys: []string{"token", "repo", "event_type"},
		headers: func(c *Config) map[string]string {
			return map[string]string{"Authorization": "Bearer " + c.Token.Reveal(), "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": GitHubAPIVersion}
		},
		fields: func(c *Config) map[string]string {
			if c.EventType == "" {
				return nil // the template's: "cortex-<event type>"
			}
			return map[string]string{"event_type": c.EventType}
		},
		retryable: githubRateLimited},
	PresetGitLabPipeline: {name: PresetGitLabPipeline, template: PresetGitLabPipeline, credential: credToken, keys: []string{"token", "project", "ref"},
		fields: func(c *Config) map[string]string {
			return map[string]string{"token": c.Token.Reveal(), "ref": c.Ref}
		}},
}

// CarriesDigests reports whether a target with this config can take a digest: the plain webhook
// and the generic presets (generic-json, cloudevents) can. The services with a schema of their
// own would refuse the digest's JSON body or not show it: alerts (PagerDuty, Opsgenie),
// pipelines (GitHub, GitLab) and chat (Teams, Mattermost, Rocket.Chat: use a slack, discord or
// email target for a digest).
func (c *Config) CarriesDigests() bool {
	return c.Preset == "" || c.Preset == PresetGenericJSON || c.Preset == PresetCloudEvents
}

// Presets lists the preset names, sorted.
func Presets() []string {
	var out []string
	for name := range presets {
		if name != "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// optionalKeys are the preset-specific keys, each with whether c sets it.
func optionalKeys(c *Config) []struct {
	name string
	set  bool
} {
	return []struct {
		name string
		set  bool
	}{
		{"routing_key", c.RoutingKey != "" || c.RoutingKeyFile != ""},
		{"api_key", c.APIKey != "" || c.APIKeyFile != ""},
		{"token", c.Token != "" || c.TokenFile != ""},
		{"repo", c.Repo != ""},
		{"event_type", c.EventType != ""},
		{"project", c.Project != ""},
		{"ref", c.Ref != ""},
		{"source", c.Source != ""},
	}
}

func (c *Config) preset() (*preset, bool) {
	p, ok := presets[c.Preset]
	if !ok {
		return presets[""], false
	}
	return p, true
}

// DefaultTemplate is the template a target with this config uses unless it or its route names
// one: the preset's ("pagerduty" → webhook/pagerduty.tmpl), or "" (the original event) for
// generic-json, no preset and an unknown preset.
func (c *Config) DefaultTemplate() string {
	p, _ := c.preset()
	return p.template
}

// credentialValue returns the name and value of the key that enables the target.
func (c *Config) credentialValue() (string, string) {
	p, _ := c.preset()
	switch p.credential {
	case credURL:
		return "url", c.URL
	case credRoutingKey:
		return "routing_key", c.RoutingKey.Reveal()
	case credAPIKey:
		return "api_key", c.APIKey.Reveal()
	case credToken:
		return "token", c.Token.Reveal()
	}
	return "secret", c.Secret.Reveal()
}

// Disabled says why a target with this config sends nothing, or "": its credential is empty
// (typically its variable is unset). The credential is the preset's own key where it has one
// (routing_key for pagerduty, api_key for opsgenie, token for github-dispatch and
// gitlab-pipeline), the url for presets whose URL carries the token (msteams, mattermost,
// rocketchat), and the signing secret otherwise (no preset, generic-json, cloudevents). With a
// preset that has its own credential, secret is optional: when set, requests are signed too. An
// unknown preset is not disabled, so that Validate names it.
func (c *Config) Disabled() string {
	if _, ok := c.preset(); !ok {
		return ""
	}
	if key, v := c.credentialValue(); v == "" {
		return key + " is empty"
	}
	return ""
}

// Endpoint is the URL requests go to: URL when set, else the preset's fixed endpoint
// (PagerDuty, Opsgenie, or built from repo for github-dispatch and project for
// gitlab-pipeline); "" when there is none.
func (c *Config) Endpoint() string {
	if c.URL != "" {
		return c.URL
	}
	switch c.Preset {
	case PresetPagerDuty:
		return PagerDutyURL
	case PresetOpsgenie:
		return OpsgenieURL
	case PresetGitHubDispatch:
		if c.Repo != "" {
			return GitHubAPIURL + "/repos/" + c.Repo + "/dispatches"
		}
	case PresetGitLabPipeline:
		if c.Project != "" {
			return GitLabAPIURL + "/projects/" + url.PathEscape(c.Project) + "/trigger/pipeline"
		}
	}
	return ""
}

var (
	repoPattern    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	projectPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
)

// validatePreset checks the preset and its keys; errors are "key: problem".
func (c *Config) validatePreset() []error {
	var errs []error
	p, ok := c.preset()
	if !ok {
		return []error{fmt.Errorf("preset: unknown preset %q (known: %s)", c.Preset, strings.Join(Presets(), ", "))}
	}
	for _, k := range optionalKeys(c) {
		if k.set && !slices.Contains(p.keys, k.name) {
			if p.name == "" {
				errs = append(errs, fmt.Errorf("%s: only used with a preset (this target has none)", k.name))
			} else {
				errs = append(errs, fmt.Errorf("%s: not used by preset %s", k.name, p.name))
			}
		}
	}
	if p.credential != credSecret && p.credential != credURL {
		if key, v := c.credentialValue(); v == "" {
			errs = append(errs, fmt.Errorf("%s: required for preset %s", key, p.name))
		}
	}
	switch p.name {
	case PresetGitHubDispatch:
		switch {
		case c.Repo != "" && c.URL != "":
			errs = append(errs, errors.New("repo: set repo or url (the full dispatches URL, e.g. for GitHub Enterprise), not both"))
		case c.Repo == "" && c.URL == "":
			errs = append(errs, errors.New("repo: required for preset github-dispatch (owner/name), unless url is set"))
		case c.Repo != "" && !repoPattern.MatchString(c.Repo):
			errs = append(errs, fmt.Errorf("repo: must be owner/name, got %q", c.Repo))
		}
		if c.EventType != "" && (strings.TrimSpace(c.EventType) == "" || utf8.RuneCountInString(c.EventType) > maxEventTypeLen) {
			errs = append(errs, fmt.Errorf("event_type: must be 1–%d characters", maxEventTypeLen))
		}
	case PresetGitLabPipeline:
		switch {
		case c.Project != "" && c.URL != "":
			errs = append(errs, errors.New("project: set project or url (the full trigger URL, e.g. for self-managed GitLab), not both"))
		case c.Project == "" && c.URL == "":
			errs = append(errs, errors.New("project: required for preset gitlab-pipeline (a project id or group/name), unless url is set"))
		case c.Project != "" && !projectPattern.MatchString(c.Project):
			errs = append(errs, fmt.Errorf("project: must be a project id or its path (group/name), got %q", c.Project))
		}
		if strings.TrimSpace(c.Ref) == "" {
			errs = append(errs, errors.New("ref: required for preset gitlab-pipeline (the branch or tag to run)"))
		}
	case PresetCloudEvents:
		if _, err := url.Parse(c.Source); c.Source != "" && (err != nil || strings.TrimSpace(c.Source) != c.Source) {
			errs = append(errs, fmt.Errorf("source: must be a URI reference (e.g. https://bridge.example.com or cortex-bridge), got %q", c.Source))
		}
	}
	if p.headers != nil {
		own := map[string]bool{}
		for k := range p.headers(c) {
			own[http.CanonicalHeaderKey(k)] = true
		}
		for k := range c.Headers {
			if own[http.CanonicalHeaderKey(k)] {
				errs = append(errs, fmt.Errorf("headers.%s: set by preset %s, cannot be configured", k, p.name))
			}
		}
	}
	return errs
}

// setFields sets top-level fields of the JSON object body to string values, keeping every other
// member as it was (re-encoded with sorted keys, HTML characters unescaped like toRawJson).
func setFields(body []byte, fields map[string]string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, errors.New("the body must be a JSON object")
	}
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		obj[k] = b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// githubRateLimited: GitHub answers an exhausted rate limit with 403 (or 429) and
// x-ratelimit-remaining: 0 (wait until x-ratelimit-reset, epoch seconds), and a secondary rate
// limit with 403 (or 429) and Retry-After
// (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit).
func githubRateLimited(code int, h http.Header, now time.Time) (bool, time.Duration) {
	if code != http.StatusForbidden && code != http.StatusTooManyRequests {
		return false, 0
	}
	ra := h.Get("Retry-After")
	exhausted := h.Get("X-Ratelimit-Remaining") == "0"
	if ra == "" && !exhausted {
		return false, 0
	}
	if d := notify.ParseRetryAfter(ra, now); d > 0 {
		return true, d
	}
	if reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
		if d := time.Unix(reset, 0).Sub(now); d > 0 {
			return true, d
		}
	}
	return true, 0
}
