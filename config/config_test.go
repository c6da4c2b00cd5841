package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/adapters/discord"
	"github.com/cortexbridge/cortex-bridge/adapters/email"
	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/adapters/slack"
	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/config"
	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
	"github.com/cortexbridge/cortex-bridge/samples"
	"github.com/cortexbridge/cortex-bridge/templates"
)

// shippedConfig is the repository's config.yaml, seen from this package's directory.
const shippedConfig = "../config.yaml"

// The smallest valid config is ingestSection + routesSection + auditTarget. The file target
// "audit" comes last, so a test appends more targets ("  - name: …") right after it, then more
// top-level sections.
const (
	ingestSection = "ingest:\n  secrets: [test-ingest-secret]\n"
	routesSection = "routes:\n  - name: everything\n    when: 'true'\n    targets: [audit]\n"
	auditTarget   = "targets:\n  - name: audit\n    type: file\n    path: audit.jsonl\n"
	minimal       = ingestSection + routesSection + auditTarget
)

// siemTarget is a webhook target (index 1 after audit) with extra appended to its keys.
func siemTarget(extra string) string {
	return "  - name: siem\n    type: webhook\n    url: https://siem.example.com/hooks/cortex\n" + extra
}

// mailTarget is an email target (index 1 after audit) with extra appended to its smtp keys.
func mailTarget(smtpExtra string) string {
	return "  - name: mail\n    type: email\n    from: alerts@example.com\n    to: [ops@example.com]\n" +
		"    smtp:\n      host: smtp.example.com\n" + smtpExtra
}

// bundle is what a test needs: a private folder for *_file secrets and templates.
type bundle struct {
	dir string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return &bundle{dir: t.TempDir()}
}

// parse runs config.Parse on src with env as the whole environment and b.dir as the folder of
// relative *_file paths.
func (b *bundle) parse(t *testing.T, src string, env map[string]string) (*config.Config, error) {
	t.Helper()
	return config.Parse([]byte(src), config.Options{LookupEnv: lookup(env), Dir: b.dir})
}

// write creates b.dir/rel, with its folders, and returns its full path.
func (b *bundle) write(t *testing.T, rel, content string) string {
	t.Helper()
	p := filepath.Join(b.dir, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// wantKey is one expected *config.KeyError.
type wantKey struct {
	path string // KeyError.Path, exactly
	at   string // text on the line the error must name (last occurrence in the source); "" = no line
	msg  string // part of KeyError.Msg
}

// keyErrors returns the leaves of a joined error, failing the test on a leaf that is not a
// *config.KeyError or has no key path.
func keyErrors(t *testing.T, err error) []*config.KeyError {
	t.Helper()
	require.Error(t, err)
	var out []*config.KeyError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ke *config.KeyError
		require.True(t, errors.As(err, &ke), "%T is not a *config.KeyError: %v", err, err)
		require.NotEmpty(t, ke.Path, "error without a key path: %v", err)
		out = append(out, ke)
	}
	walk(err)
	return out
}

// requireKeyErrors asserts that err, from parsing src, holds every wanted error with its key
// path and line, and that its text shows them as "line N: path: msg".
func requireKeyErrors(t *testing.T, src string, err error, wants ...wantKey) {
	t.Helper()
	got := keyErrors(t, err)
	for _, w := range wants {
		i := slices.IndexFunc(got, func(ke *config.KeyError) bool {
			return ke.Path == w.path && strings.Contains(ke.Msg, w.msg)
		})
		require.GreaterOrEqual(t, i, 0, "no error %s: …%s… in:\n%v", w.path, w.msg, err)
		require.Contains(t, err.Error(), w.msg)
		if w.at != "" {
			line := lineOf(t, src, w.at)
			require.Equal(t, line, got[i].Line, "line of %s", w.path)
			require.Contains(t, err.Error(), fmt.Sprintf("line %d: %s: ", line, w.path))
		}
	}
}

// lineOf returns the 1-based line of the last occurrence of needle in src.
func lineOf(t *testing.T, src, needle string) int {
	t.Helper()
	i := strings.LastIndex(src, needle)
	require.GreaterOrEqual(t, i, 0, "%q not in the config", needle)
	return strings.Count(src[:i], "\n") + 1
}

func TestShippedConfig(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(shippedConfig)
	require.NoError(t, err)
	allTargets := []string{"security-slack", "dev-discord", "compliance-mail", "siem", "audit", "ops-mail"}

	tests := map[string]struct {
		env      map[string]string
		disabled []string // in config order; every other target is enabled
		check    func(t *testing.T, c *config.Config)
	}{
		"empty environment": {
			disabled: []string{"security-slack", "dev-discord", "compliance-mail", "siem", "ops-mail"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "127.0.0.1:8080", c.Server.Listen)
				require.Empty(t, c.Server.PublicURL)
				require.Equal(t, "sqlite", c.Storage.Driver)
				require.True(t, strings.HasSuffix(c.Storage.DSN, "/data/cortex-bridge.db"), "relative to the config file: %s", c.Storage.DSN)
				require.True(t, filepath.IsAbs(c.Storage.DSN))
				require.Equal(t, []string{"dev-secret-change-me"}, notify.RevealAll(c.Ingest.Secrets))
				require.Equal(t, 587, config.AdapterConfig[*email.Config](&c.Targets[2]).SMTP.Port)
				require.Equal(t, "starttls", config.AdapterConfig[*email.Config](&c.Targets[2]).SMTP.TLS, "SMTP_TLS unset: the default")
				require.Equal(t, "starttls", config.AdapterConfig[*email.Config](&c.Targets[5]).SMTP.TLS)
				require.Equal(t, "Cortex Bridge <alerts@example.com>", config.AdapterConfig[*email.Config](&c.Targets[2]).From)
				require.Equal(t, []string{"compliance@example.com"}, config.AdapterConfig[*email.Config](&c.Targets[2]).To)
				require.Equal(t, "https://siem.example.com/hooks/cortex", config.AdapterConfig[*webhook.Config](&c.Targets[3]).URL)
				require.Empty(t, config.AdapterConfig[*webhook.Config](&c.Targets[3]).Secret)
				require.True(t, strings.HasSuffix(config.AdapterConfig[*file.Config](&c.Targets[4]).Path, "/data/audit.jsonl"), config.AdapterConfig[*file.Config](&c.Targets[4]).Path)
			},
		},
		"SIEM_WEBHOOK_SECRET set": {
			env:      map[string]string{"SIEM_WEBHOOK_SECRET": "siem-test-secret"},
			disabled: []string{"security-slack", "dev-discord", "compliance-mail", "ops-mail"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "siem-test-secret", config.AdapterConfig[*webhook.Config](&c.Targets[3]).Secret.Reveal())
			},
		},
		"SMTP_HOST set without OPS_EMAIL": {
			env:      map[string]string{"SMTP_HOST": "smtp.example.com", "SIEM_WEBHOOK_SECRET": "siem-test-secret"},
			disabled: []string{"security-slack", "dev-discord", "ops-mail"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "to is empty (its variable is unset)", c.Targets[5].Disabled())
			},
		},
		"PostgreSQL from the environment (replicas)": {
			env: map[string]string{
				"CORTEX_BRIDGE_DB_DRIVER": "postgres",
				"CORTEX_BRIDGE_DB":        "postgres://bridge@db:5432/bridge?sslmode=disable",
			},
			disabled: []string{"security-slack", "dev-discord", "compliance-mail", "siem", "ops-mail"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "postgres", c.Storage.Driver)
				require.Equal(t, "postgres://bridge@db:5432/bridge?sslmode=disable", c.Storage.DSN, "a URL is not made relative")
			},
		},
		"SMTP_TLS=none: a plaintext local relay": {
			env:      map[string]string{"SMTP_HOST": "localhost", "SMTP_PORT": "25", "SMTP_TLS": "none", "OPS_EMAIL": "ops@example.com"},
			disabled: []string{"security-slack", "dev-discord", "siem"},
			check: func(t *testing.T, c *config.Config) {
				for _, i := range []int{2, 5} { // compliance-mail, ops-mail
					require.Equal(t, 25, config.AdapterConfig[*email.Config](&c.Targets[i]).SMTP.Port, c.Targets[i].Name)
					require.Equal(t, "none", config.AdapterConfig[*email.Config](&c.Targets[i]).SMTP.TLS, c.Targets[i].Name)
				}
			},
		},
		"every variable set": {
			env: map[string]string{
				"CORTEX_WEBHOOK_SECRET":   "prod-ingest-secret",
				"CORTEX_BRIDGE_LISTEN":    "0.0.0.0:9090",
				"SLACK_WEBHOOK_URL":       "https://hooks.slack.com/services/T000/B000/XXXX",
				"DISCORD_WEBHOOK_URL":     "https://discord.com/api/webhooks/123/abc-DEF",
				"SMTP_HOST":               "smtp.example.com",
				"SMTP_PORT":               "465",
				"SIEM_WEBHOOK_SECRET":     "siem-test-secret",
				"OPS_EMAIL":               "ops@example.com",
				"CORTEX_BRIDGE_ADMIN_KEY": "admin-key-0123456789abcdef",
			},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, map[string]string{"admin": "admin-key-0123456789abcdef"}, c.APIKeys())
				require.Equal(t, []string{"ops@example.com"}, config.AdapterConfig[*email.Config](&c.Targets[5]).To)
				require.Equal(t, "0.0.0.0:9090", c.Server.Listen)
				require.Equal(t, []string{"prod-ingest-secret"}, notify.RevealAll(c.Ingest.Secrets))
				require.Equal(t, 465, config.AdapterConfig[*email.Config](&c.Targets[2]).SMTP.Port)
				require.Equal(t, "implicit", config.AdapterConfig[*email.Config](&c.Targets[2]).SMTP.TLS)
				require.Equal(t, "implicit", config.AdapterConfig[*email.Config](&c.Targets[5]).SMTP.TLS)
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cfg, err := b.parse(t, string(src), tt.env)
			require.NoError(t, err)
			tt.check(t, cfg)

			rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
			require.NoError(t, err)
			digestWarnings := 0
			if slices.Contains(tt.disabled, "compliance-mail") {
				digestWarnings = 1 // the weekly digest's target is disabled too
				require.Contains(t, rt.Warnings, "digest weekly-compliance: its target compliance-mail is disabled; its periods are closed but not sent")
			}
			keyWarnings := 0
			if tt.env["CORTEX_BRIDGE_ADMIN_KEY"] == "" {
				keyWarnings = 1 // nobody can sign in; the bridge runs
				require.Contains(t, rt.Warnings, "api.keys[0] (admin): the key is empty (its variable unset?); this account cannot use the API or the dashboard")
				require.Empty(t, cfg.APIKeys())
			}
			require.Equal(t, []string{"admin"}, cfg.APIAdmins())
			require.Len(t, rt.Warnings, len(tt.disabled)+digestWarnings+keyWarnings, "warnings: %q", rt.Warnings)
			for _, name := range tt.disabled {
				n := 0
				for _, w := range rt.Warnings {
					if strings.HasPrefix(w, "target "+name+" (") && strings.Contains(w, "is disabled") {
						n++
					}
				}
				require.Equal(t, 1, n, "warnings for %s: %q", name, rt.Warnings)
			}
			var names []string
			for _, tgt := range rt.Targets {
				names = append(names, tgt.Name)
				require.Equal(t, slices.Contains(tt.disabled, tgt.Name), tgt.Disabled != "", "%s: %q", tgt.Name, tgt.Disabled)
			}
			require.Equal(t, allTargets, names)
			require.Len(t, rt.Router.Routes, 7)
			require.NotNil(t, rt.Router.Route("critical-issues").Group, "findings are grouped per scan")
			require.Equal(t, []string{"security-slack"}, rt.Router.Route("what-changed").Targets, "new and regressed findings go to Slack")
			require.NotNil(t, rt.Router.Route("failures").Throttle, "failures are throttled per repository")
			require.Equal(t, []string{"ops-mail", "audit"}, rt.Router.Route("bridge-alerts").Targets)
			require.Len(t, rt.Router.Digests, 1)
			require.Equal(t, "0 8 * * MON UTC", rt.Router.Digests[0].Spec)
		})
	}
}

// TestShippedConfig_Serve builds the shipped config for real (notifiers included), with the audit
// log in a temporary folder.
func TestShippedConfig_Serve(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(shippedConfig)
	require.NoError(t, err)
	b := setup(t)
	auditLog := filepath.Join(b.dir, "audit", "audit.jsonl")
	cfg, err := b.parse(t, string(src), map[string]string{
		"CORTEX_BRIDGE_AUDIT_LOG": auditLog,
		"SIEM_WEBHOOK_SECRET":     "siem-test-secret",
	})
	require.NoError(t, err)
	rt, err := config.Build(cfg, config.BuildOptions{Version: "test"})
	require.NoError(t, err)
	t.Cleanup(rt.Close)

	require.True(t, rt.Enabled("audit"))
	require.True(t, rt.Enabled("siem"))
	require.False(t, rt.Enabled("security-slack"))
	require.False(t, rt.Enabled("no-such-target"))
	require.FileExists(t, auditLog)
}

// TestShippedConfig_BadSMTPTLS: a mistyped SMTP_TLS is refused with the key it landed in, not
// taken for the default.
func TestShippedConfig_BadSMTPTLS(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(shippedConfig)
	require.NoError(t, err)
	_, err = setup(t).parse(t, string(src), map[string]string{"SMTP_HOST": "localhost", "SMTP_TLS": "plain"})
	require.ErrorContains(t, err, `targets[2].smtp.tls: must be starttls, implicit or none, got "plain"`)
}

func TestParse_EnvExpansion(t *testing.T) {
	t.Parallel()
	publicURL := func(v string) string { return minimal + "server:\n  public_url: " + v + "\n" }
	secretIs := func(want string) func(*testing.T, *config.Config) {
		return func(t *testing.T, c *config.Config) {
			require.Equal(t, want, config.AdapterConfig[*webhook.Config](&c.Targets[1]).Secret.Reveal())
			require.Empty(t, c.Targets[1].Disabled())
		}
	}
	publicURLIs := func(want string) func(*testing.T, *config.Config) {
		return func(t *testing.T, c *config.Config) {
			require.Equal(t, want, c.Server.PublicURL)
		}
	}

	type test struct {
		src     string
		env     map[string]string
		check   func(t *testing.T, c *config.Config)
		wantErr []wantKey
	}
	tests := map[string]test{
		"${VAR} set": {
			src:   publicURL("${PUBLIC_URL}"),
			env:   map[string]string{"PUBLIC_URL": "https://bridge.example.com"},
			check: publicURLIs("https://bridge.example.com"),
		},
		"${VAR} unset is empty": {
			src:   publicURL("${PUBLIC_URL}"),
			check: publicURLIs(""),
		},
		"${VAR:-default} unset": {
			src:   publicURL("${PUBLIC_URL:-https://default.example.com}"),
			check: publicURLIs("https://default.example.com"),
		},
		"${VAR:-default} set": {
			src:   publicURL("${PUBLIC_URL:-https://default.example.com}"),
			env:   map[string]string{"PUBLIC_URL": "https://bridge.example.com"},
			check: publicURLIs("https://bridge.example.com"),
		},
		"${VAR:-default} set but empty": {
			src:   publicURL("${PUBLIC_URL:-https://default.example.com}"),
			env:   map[string]string{"PUBLIC_URL": ""},
			check: publicURLIs("https://default.example.com"),
		},
		"${VAR:-} unset": {
			src:   publicURL("${PUBLIC_URL:-}"),
			check: publicURLIs(""),
		},
		"$${LITERAL} stays ${LITERAL}": {
			src:   publicURL("$${LITERAL}"),
			env:   map[string]string{"LITERAL": "expanded"},
			check: publicURLIs("${LITERAL}"),
		},
		"$${LITERAL:-x} stays ${LITERAL:-x}": {
			src:   publicURL(`"$${LITERAL:-x}"`),
			env:   map[string]string{"LITERAL": "expanded"},
			check: publicURLIs("${LITERAL:-x}"),
		},
		"several references in one value": {
			src:   publicURL("https://${HOST}:${PORT:-8443}/$${path}"),
			env:   map[string]string{"HOST": "bridge.example.com"},
			check: publicURLIs("https://bridge.example.com:8443/${path}"),
		},
		"a value cannot add a sibling key": {
			src: publicURL("${PUBLIC_URL}"),
			env: map[string]string{"PUBLIC_URL": "https://x.example\nlisten: 0.0.0.0:9999"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "https://x.example\nlisten: 0.0.0.0:9999", c.Server.PublicURL)
				require.Equal(t, "127.0.0.1:8080", c.Server.Listen)
			},
		},
		"keys are not expanded": {
			src: minimal + siemTarget("    secret: s\n    headers:\n      X-${HEADER}: ${VALUE}\n"),
			env: map[string]string{"HEADER": "Team", "VALUE": "security"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, map[string]string{"X-${HEADER}": "security"}, config.AdapterConfig[*webhook.Config](&c.Targets[1]).Headers)
			},
		},
		"port: ${SMTP_PORT:-587} is the int 587": {
			src: minimal + mailTarget("      port: ${SMTP_PORT:-587}\n"),
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, 587, config.AdapterConfig[*email.Config](&c.Targets[1]).SMTP.Port)
			},
		},
		"port: ${SMTP_PORT:-587} with SMTP_PORT set": {
			src: minimal + mailTarget("      port: ${SMTP_PORT:-587}\n"),
			env: map[string]string{"SMTP_PORT": "2525"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, 2525, config.AdapterConfig[*email.Config](&c.Targets[1]).SMTP.Port)
			},
		},
		"port: ${SMTP_PORT} that is not a number": {
			src: minimal + mailTarget("      port: ${SMTP_PORT}\n"),
			env: map[string]string{"SMTP_PORT": "smtp"},
			wantErr: []wantKey{{
				path: "targets[1].smtp.port", at: "port: ${SMTP_PORT}", msg: "cannot unmarshal !!str `smtp` into int",
			}},
		},
		"unset plain value is null, so the default applies": {
			src: minimal + "delivery:\n  max_attempts: ${ATTEMPTS}\n  timeout: ${TIMEOUT:-45s}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, 4, c.Delivery.MaxAttempts)
				require.Equal(t, 45*time.Second, c.Delivery.Timeout)
			},
		},
		"plain bool and int are re-typed": {
			src: strings.Replace(minimal, "ingest:\n", "ingest:\n  strict_events: ${STRICT:-true}\n  max_body_bytes: ${MAX_BODY}\n", 1),
			env: map[string]string{"MAX_BODY": "2048"},
			check: func(t *testing.T, c *config.Config) {
				require.True(t, c.Ingest.StrictEvents)
				require.EqualValues(t, 2048, c.Ingest.MaxBodyBytes)
			},
		},
		`quoted "${X}" stays a string`: {
			src: minimal + mailTarget(`      port: "${SMTP_PORT:-587}"`+"\n"),
			wantErr: []wantKey{{
				path: "targets[1].smtp.port", at: `port: "${SMTP_PORT:-587}"`, msg: "cannot unmarshal !!str `587` into int",
			}},
		},
		`quoted "${X}" unset is an empty string, not null`: {
			src: strings.Replace(minimal, "[test-ingest-secret]", `["${INGEST_SECRET}"]`, 1),
			wantErr: []wantKey{{
				path: "ingest.secrets[0]", at: `["${INGEST_SECRET}"]`, msg: "must not be empty",
			}},
		},
		"unset item among set ones keeps its index": {
			src: strings.Replace(minimal, "[test-ingest-secret]", "\n    - ${NEW_SECRET}\n    - ${OLD_SECRET}\n    - ''", 1),
			env: map[string]string{"NEW_SECRET": "new"},
			wantErr: []wantKey{
				{path: "ingest.secrets[1]", at: "- ${OLD_SECRET}", msg: "must not be empty"},
				{path: "ingest.secrets[2]", at: "- ''", msg: "must not be empty"},
			},
		},
		"unquoted unset secret in a list is empty": {
			src: strings.Replace(minimal, "[test-ingest-secret]", "\n    - ${INGEST_SECRET}", 1),
			wantErr: []wantKey{{
				path: "ingest.secrets[0]", at: "- ${INGEST_SECRET}", msg: "must not be empty",
			}},
		},
	}
	for _, v := range []string{"null", "Null", "NULL", "~"} {
		tests["secret literally "+v+" stays "+v] = test{
			src:   minimal + siemTarget("    secret: ${SIEM_SECRET}\n"),
			env:   map[string]string{"SIEM_SECRET": v},
			check: secretIs(v),
		}
	}
	for _, v := range []string{"true", "0123", "0x1F", "1e3", "12345", ".inf"} {
		tests["secret "+v+" keeps its text"] = test{
			src:   minimal + siemTarget("    secret: ${SIEM_SECRET}\n"),
			env:   map[string]string{"SIEM_SECRET": v},
			check: secretIs(v),
		}
	}
	// A value holding YAML syntax stays one string: expansion happens after parsing.
	for name, v := range map[string]string{
		"comment":  "a: b #c",
		"sequence": "- x",
		"flow map": "{x: 1}",
		"flow seq": "[a, b]",
		"newlines": "line1\nline2: v\n- item\n",
		"anchors":  "&anchor *alias !!int 5",
		"quotes":   `x"], ["y`,
		"document": "---\nfoo: bar\n...",
	} {
		tests["yaml syntax in a value: "+name] = test{
			src: strings.Replace(minimal, "[test-ingest-secret]", "\n    - ${INGEST_SECRET}\n    - second", 1),
			env: map[string]string{"INGEST_SECRET": v},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, []string{v, "second"}, notify.RevealAll(c.Ingest.Secrets))
				require.Len(t, c.Targets, 1)
				require.Len(t, c.Routes, 1)
			},
		}
	}

	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cfg, err := b.parse(t, tt.src, tt.env)
			if tt.wantErr != nil {
				requireKeyErrors(t, tt.src, err, tt.wantErr...)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

func TestParse_SecretFiles(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		files   map[string]string // relative to the bundle's folder
		src     string            // "{{DIR}}" is replaced by the bundle's folder
		env     map[string]string
		check   func(t *testing.T, c *config.Config)
		wantErr []wantKey
		secret  string // must not appear in the error
	}{
		"secret_file relative to Dir, trailing newline trimmed": {
			files: map[string]string{"secrets/siem": "siem-file-secret\n"},
			src:   minimal + siemTarget("    secret_file: secrets/siem\n"),
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "siem-file-secret", config.AdapterConfig[*webhook.Config](&c.Targets[1]).Secret.Reveal())
				require.Empty(t, c.Targets[1].Disabled())
			},
		},
		"secret_file with CRLF": {
			files: map[string]string{"siem": "siem-file-secret\r\n"},
			src:   minimal + siemTarget("    secret_file: siem\n"),
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "siem-file-secret", config.AdapterConfig[*webhook.Config](&c.Targets[1]).Secret.Reveal())
			},
		},
		"secret_file absolute, named by a variable": {
			files: map[string]string{"abs/siem": "siem-file-secret"},
			src:   minimal + siemTarget("    secret_file: ${SIEM_SECRET_FILE}\n"),
			env:   map[string]string{"SIEM_SECRET_FILE": "{{DIR}}/abs/siem"},
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "siem-file-secret", config.AdapterConfig[*webhook.Config](&c.Targets[1]).Secret.Reveal())
			},
		},
		"slack webhook_url_file": {
			files: map[string]string{"slack": "https://hooks.slack.com/services/T000/B000/XXXX\n"},
			src:   minimal + "  - name: chat\n    type: slack\n    webhook_url_file: slack\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "https://hooks.slack.com/services/T000/B000/XXXX", config.AdapterConfig[*slack.Config](&c.Targets[1]).WebhookURL.Reveal())
				require.Empty(t, c.Targets[1].Disabled())
			},
		},
		"slack token_file": {
			files: map[string]string{"token": "xoxb-test\n"},
			src:   minimal + "  - name: chat\n    type: slack\n    token_file: token\n    channel: '#alerts'\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "xoxb-test", config.AdapterConfig[*slack.Config](&c.Targets[1]).Token.Reveal())
			},
		},
		"slack signing_secret_file": {
			files: map[string]string{"token": "xoxb-test\n", "signing": "slack-signing-file-secret\n"},
			src:   minimal + "  - name: chat\n    type: slack\n    token_file: token\n    channel: '#alerts'\n    signing_secret_file: signing\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "slack-signing-file-secret", config.AdapterConfig[*slack.Config](&c.Targets[1]).SigningSecret.Reveal())
			},
		},
		"discord webhook_url_file": {
			files: map[string]string{"discord": "https://discord.com/api/webhooks/1/tok\n"},
			src:   minimal + "  - name: dev\n    type: discord\n    webhook_url_file: discord\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "https://discord.com/api/webhooks/1/tok", config.AdapterConfig[*discord.Config](&c.Targets[1]).WebhookURL.Reveal())
			},
		},
		"smtp.password_file": {
			files: map[string]string{"smtp": "smtp-file-pass\n"},
			src:   minimal + mailTarget("      password_file: smtp\n"),
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "smtp-file-pass", config.AdapterConfig[*email.Config](&c.Targets[1]).SMTP.Password.Reveal())
			},
		},
		"api.keys[0].key_file": {
			files: map[string]string{"api-key": "api-key-0123456789abcdef\n"},
			src:   minimal + "api:\n  keys:\n    - {account: acme, key_file: api-key}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "api-key-0123456789abcdef", c.API.Keys[0].Key.Reveal())
			},
		},
		"secret and secret_file both set": {
			files:  map[string]string{"siem": "siem-file-secret\n"},
			src:    minimal + siemTarget("    secret: inline-siem-secret\n    secret_file: siem\n"),
			secret: "inline-siem-secret",
			wantErr: []wantKey{{
				path: "targets[1].secret", at: "secret: inline-siem-secret", msg: "set either the value or secret_file, not both",
			}},
		},
		"smtp.password and password_file both set": {
			files:  map[string]string{"smtp": "smtp-file-pass\n"},
			src:    minimal + mailTarget("      password: inline-smtp-pass\n      password_file: smtp\n"),
			secret: "inline-smtp-pass",
			wantErr: []wantKey{{
				path: "targets[1].smtp.password", at: "password: inline-smtp-pass", msg: "not both",
			}},
		},
		"negative template limit": {
			src: minimal + "templates:\n  max_render_steps: -1\n",
			wantErr: []wantKey{{
				path: "templates.max_render_steps", at: "max_render_steps: -1", msg: "must be greater than 0",
			}},
		},
		"missing secret_file": {
			src: minimal + siemTarget("    secret_file: missing/siem\n"),
			wantErr: []wantKey{{
				path: "targets[1].secret", at: "- name: siem", msg: "reading secret_file: open {{DIR}}/missing/siem: no such file or directory",
			}},
		},
		"ingest.secrets_file with several lines": {
			files: map[string]string{"ingest": "first\n\n  second  \r\nthird"},
			src:   strings.Replace(minimal, "  secrets: [test-ingest-secret]\n", "  secrets: [inline]\n  secrets_file: ingest\n", 1),
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, []string{"inline", "first", "second", "third"}, notify.RevealAll(c.Ingest.Secrets))
			},
		},
		"ingest.secrets_file alone": {
			files: map[string]string{"ingest": "only\n"},
			src:   strings.Replace(minimal, "  secrets: [test-ingest-secret]\n", "  secrets_file: ingest\n", 1),
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, []string{"only"}, notify.RevealAll(c.Ingest.Secrets))
			},
		},
		"missing ingest.secrets_file": {
			src: strings.Replace(minimal, "  secrets: [test-ingest-secret]\n", "  secrets_file: nope\n", 1),
			wantErr: []wantKey{{
				path: "ingest.secrets_file", at: "secrets_file: nope", msg: "no such file or directory",
			}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for rel, content := range tt.files {
				b.write(t, rel, content)
			}
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = strings.ReplaceAll(v, "{{DIR}}", b.dir)
			}
			cfg, err := b.parse(t, tt.src, env)
			if tt.wantErr != nil {
				for i := range tt.wantErr {
					tt.wantErr[i].msg = strings.ReplaceAll(tt.wantErr[i].msg, "{{DIR}}", b.dir)
				}
				requireKeyErrors(t, tt.src, err, tt.wantErr...)
				if tt.secret != "" {
					require.NotContains(t, err.Error(), tt.secret)
				}
				for _, content := range tt.files {
					require.NotContains(t, err.Error(), strings.TrimSpace(content))
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

// The faults of TestParse_Errors, one per case; the "all together" case has every one of them.
const (
	typoTop      = "delivry:\n  timeout: 5s\n"
	typoTarget   = "  - name: chat\n    type: slack\n    webhok_url: https://hooks.slack.com/services/T000/B000/XXXX\n"
	otherTypeKey = "  - name: siem\n    type: webhook\n    url: https://siem.example.com/hook\n    secret: s\n    path: /var/log/siem.jsonl\n"
	unknownType  = "  - name: teams\n    type: teams\n"
	duplicate    = "  - name: audit\n    type: file\n    path: other.jsonl\n"
	badDelivery  = "delivery:\n  max_attempts: lots\n  timeout: soon\n  backoff: {initial: 1m, max: 30s}\n"
	badRoutes    = "routes:\n" +
		"  - name: low-scores\n    when: 'scroe < 70'\n    targets: [audit]\n" +
		"  - name: unknown-target\n    when: 'true'\n    targets: [nope]\n" +
		"  - name: score-text\n    when: 'score >= \"7\"'\n    targets: [audit]\n"
)

var (
	wantTypoTop      = wantKey{"delivry", "delivry:", `unknown key (did you mean "delivery"?)`}
	wantTypoTarget   = wantKey{"targets[1].webhok_url", "webhok_url:", `unknown key (did you mean "webhook_url"?)`}
	wantOtherTypeKey = wantKey{"targets[2].path", "path: /var/log/siem.jsonl", "unknown key (known: "}
	wantUnknownType  = wantKey{"targets[3].type", "type: teams", `unknown type "teams" (want slack, discord, email, webhook or file)`}
	wantDuplicate    = wantKey{"targets[4].name", "- name: audit", `"audit" is used by another target`}
	wantMaxAttempts  = wantKey{"delivery.max_attempts", "max_attempts: lots", "cannot unmarshal !!str `lots` into int"}
	wantTimeout      = wantKey{"delivery.timeout", "timeout: soon", "cannot unmarshal !!str `soon` into time.Duration"}
	wantBackoff      = wantKey{"delivery.backoff.max", "backoff:", "must be at least backoff.initial (1m0s)"}
	wantBadRule      = wantKey{"routes[0].when", "scroe < 70", `route "low-scores": rules: unknown name scroe`}
	wantUnknownRoute = wantKey{"routes[1].targets[0]", "[nope]", `no target named "nope" (targets: `}
	wantScoreText    = wantKey{"routes[2].when", `score >= "7"`, `route "score-text": rules: invalid operation: >= (mismatched types float64 and string)`}
	wantEmptySecret  = wantKey{"ingest.secrets[1]", `secrets: [ok-secret, ""]`, "must not be empty (is its variable set?)"}
)

func TestParse_Errors(t *testing.T) {
	t.Parallel()
	const emptySecret = "ingest:\n  secrets: [ok-secret, \"\"]\n"
	tests := map[string]struct {
		src   string
		wants []wantKey
	}{
		"typo at top level": {
			src:   minimal + typoTop,
			wants: []wantKey{wantTypoTop},
		},
		"typo inside targets[N]": {
			src:   minimal + typoTarget,
			wants: []wantKey{wantTypoTarget},
		},
		"typo in a nested section": {
			src:   minimal + "delivery:\n  backof: {initial: 1s}\n",
			wants: []wantKey{{"delivery.backof", "backof:", `unknown key (did you mean "backoff"?)`}},
		},
		"key of another target type": {
			src:   minimal + "  - name: chat\n    type: slack\n    webhook_url: https://hooks.slack.com/services/T/B/X\n" + otherTypeKey,
			wants: []wantKey{wantOtherTypeKey},
		},
		"wrong type": {
			src:   minimal + "delivery:\n  max_attempts: lots\n",
			wants: []wantKey{wantMaxAttempts},
		},
		"duration that does not parse": {
			src:   minimal + "delivery:\n  timeout: soon\n",
			wants: []wantKey{wantTimeout},
		},
		"duration without a unit": {
			src:   minimal + "delivery:\n  timeout: 30\n",
			wants: []wantKey{{"delivery.timeout", "timeout: 30", "cannot unmarshal !!int `30` into time.Duration"}},
		},
		"type errors on one line name their own keys": {
			src: minimal + "delivery:\n  backoff: {initial: later, max: soon}\n",
			wants: []wantKey{
				{"delivery.backoff.initial", "backoff:", "cannot unmarshal !!str `later` into time.Duration"},
				{"delivery.backoff.max", "backoff:", "cannot unmarshal !!str `soon` into time.Duration"},
			},
		},
		"unknown target type": {
			src: minimal + "  - name: chat\n    type: slack\n    webhook_url: https://hooks.slack.com/services/T/B/X\n" +
				"  - name: siem\n    type: webhook\n    url: https://siem.example.com/hook\n" + unknownType,
			wants: []wantKey{wantUnknownType},
		},
		"duplicate target names": {
			src:   minimal + duplicate,
			wants: []wantKey{{"targets[1].name", "- name: audit", `"audit" is used by another target`}},
		},
		"route naming an unknown target": {
			src: ingestSection + auditTarget +
				"routes:\n  - name: all\n    when: 'true'\n    targets: [audit]\n  - name: unknown-target\n    when: 'true'\n    targets: [nope]\n",
			wants: []wantKey{{"routes[1].targets[0]", "[nope]", `no target named "nope" (targets: audit)`}},
		},
		"rule that does not compile": {
			src:   ingestSection + auditTarget + badRoutes,
			wants: []wantKey{wantBadRule, wantUnknownRoute, wantScoreText},
		},
		"empty ingest secret": {
			src:   strings.Replace(minimal, ingestSection, emptySecret, 1),
			wants: []wantKey{wantEmptySecret},
		},
		"blank ingest secret": {
			src:   strings.Replace(minimal, "[test-ingest-secret]", `["  "]`, 1),
			wants: []wantKey{{"ingest.secrets[0]", `["  "]`, "must not be empty"}},
		},
		"no ingest secret": {
			src:   strings.Replace(minimal, ingestSection, "", 1),
			wants: []wantKey{{"ingest.secrets", "", "at least one secret required"}},
		},
		"slack signing_secret on an incoming webhook": {
			src: minimal + "  - name: chat\n    type: slack\n    webhook_url: https://hooks.slack.com/services/T/B/X\n    signing_secret: slack-signing-secret\n",
			wants: []wantKey{{"targets[1].signing_secret", "signing_secret: slack-signing-secret",
				"only with token (chat.postMessage): incoming webhooks cannot receive button clicks"}},
		},
		"api key role that is neither admin nor tenant": {
			src:   minimal + "api:\n  keys:\n    - {account: ops, key: ops-key-0123456789abcdef, role: root}\n",
			wants: []wantKey{{"api.keys[0].role", "role: root", `must be "admin" or "tenant", not "root"`}},
		},
		"unverified bytes below the body limit": {
			src: strings.Replace(minimal, "ingest:\n", "ingest:\n  max_body_bytes: 2048\n  max_unverified_bytes: 1024\n", 1),
			wants: []wantKey{{"ingest.max_unverified_bytes", "max_unverified_bytes: 1024",
				"must be at least ingest.max_body_bytes (2048)"}},
		},
		"backoff.max below backoff.initial": {
			src:   minimal + "delivery:\n  backoff: {initial: 1m, max: 30s}\n",
			wants: []wantKey{wantBackoff},
		},
		"all together": {
			src: emptySecret + auditTarget + typoTarget + otherTypeKey + unknownType + duplicate +
				typoTop + badDelivery + badRoutes,
			wants: []wantKey{
				wantTypoTop, wantTypoTarget, wantOtherTypeKey, wantUnknownType, wantDuplicate, wantMaxAttempts,
				wantTimeout, wantBackoff, wantBadRule, wantUnknownRoute, wantScoreText, wantEmptySecret,
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.parse(t, tt.src, nil)
			requireKeyErrors(t, tt.src, err, tt.wants...)
			require.Len(t, keyErrors(t, err), len(tt.wants), "exactly the wanted errors:\n%v", err)
		})
	}
}

// TestCase_C12_RuleTypeErrorsAtLoad: a comparison of a number field with a string is rejected
// when the config loads, naming the route; the nil-safe forms load.
func TestCase_C12_RuleTypeErrorsAtLoad(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		when string
		msg  string // "" = loads
	}{
		`score >= "7"`:                   {`score >= "7"`, "mismatched types float64 and string"},
		`"7" <= score`:                   {`"7" <= score`, "mismatched types string and float64"},
		`score < "70" on one side of &&`: {`event == "scan.completed" && score < "70"`, "mismatched types"},
		`line > "1"`:                     {`line > "1"`, "mismatched types"},
		`issues_count >= "3"`:            {`issues_count >= "3"`, "mismatched types"},
		`severity_at_least(score, ...)`:  {`severity_at_least(score, "high")`, "score"},
		`non-boolean rule`:               {`score`, "bool"},
		`score >= 70`:                    {`score >= 70`, ""},
		`(score ?? 0) < 70`:              {`(score ?? 0) < 70`, ""},
		`data.labels contains`:           {`data.labels["k8s.ns"] contains "prod"`, ""},
		`over rules.MaxNodes`:            {strings.Repeat("score > 1 || ", 300) + "true", "more than 1000 nodes"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			src := ingestSection + auditTarget + "routes:\n  - name: everything\n    when: 'true'\n    targets: [audit]\n" +
				"  - name: under-test\n    when: '" + tt.when + "'\n    targets: [audit]\n"
			_, err := b.parse(t, src, nil)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			requireKeyErrors(t, src, err, wantKey{"routes[1].when", "when: '" + tt.when, `route "under-test": `})
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

// templateConfig is a valid config with a slack target "chat", a discord target "dev", the file
// target "audit" and the user templates in dir; targets and routes are appended to theirs.
func templateConfig(dir, targets, routes string) string {
	return fmt.Sprintf("templates:\n  dir: %q\n", dir) + ingestSection +
		"targets:\n" +
		"  - name: chat\n    type: slack\n    webhook_url: https://hooks.slack.com/services/T000/B000/XXXX\n" +
		"  - name: dev\n    type: discord\n    webhook_url: https://discord.com/api/webhooks/1/token\n" +
		"  - name: audit\n    type: file\n    path: audit.jsonl\n" + targets +
		"routes:\n  - name: everything\n    when: 'true'\n    targets: [audit]\n" + routes
}

// TestCase_C09_TemplatesCheckedAtLoad: every template a route or target uses is rendered against
// every sample event when the config is built, so a missing key or a bad comparison stops
// validate with the template's file named, and "<no value>" never reaches a message.
func TestCase_C09_TemplatesCheckedAtLoad(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		files   map[string]string // under the templates folder
		targets string
		routes  string
		want    []string // each in the error; "{{TPL}}" is the templates folder
		notWant []string
	}{
		"missing key in a user template (C09 literal)": {
			files:  map[string]string{"slack/custom.tmpl": `{{ .Data.labels.team }}`},
			routes: "  - {name: team, when: 'true', targets: [chat], template: custom}\n",
			want:   []string{"routes[1] (team) → target chat", "{{TPL}}/slack/custom.tmpl", "<.Data.labels.team>", `map has no entry for key "labels"`},
		},
		"missing key in the event's data": {
			files:  map[string]string{"slack/custom.tmpl": `{{ .Event.Data.labels.team }}`},
			routes: "  - {name: team, when: 'true', targets: [chat], template: custom}\n",
			want:   []string{"routes[1] (team) → target chat", "{{TPL}}/slack/custom.tmpl", `map has no entry for key "labels"`},
		},
		"number compared with a string": {
			files:  map[string]string{"slack/custom.tmpl": `{{ if gt .score "7" }}{"text": "high"}{{ else }}{"text": "low"}{{ end }}`},
			routes: "  - {name: scores, when: 'true', targets: [chat], template: custom}\n",
			want:   []string{"routes[1] (scores) → target chat", "{{TPL}}/slack/custom.tmpl", "sample scan.completed", "incompatible types for comparison"},
		},
		"a nil printed is <no value>": {
			files:   map[string]string{"slack/custom.tmpl": `{"text": "{{ .title }}"}`},
			routes:  "  - {name: titles, when: 'true', targets: [chat], template: custom}\n",
			want:    []string{"routes[1] (titles) → target chat", "sample scan.completed", "{{TPL}}/slack/custom.tmpl", `output contains "<no value>"`},
			notWant: []string{"sample issue.critical"}, // it has a title
		},
		"a nil printed with printf or toString": {
			files:   map[string]string{"slack/custom.tmpl": `{{ dict "text" (printf "finding: %v, %s" .title (toString .file)) | toRawJson }}`},
			routes:  "  - {name: titles, when: 'true', targets: [chat], template: custom}\n",
			want:    []string{"routes[1] (titles) → target chat", "sample scan.completed", "{{TPL}}/slack/custom.tmpl", `output contains "<nil>"`},
			notWant: []string{"sample issue.critical"},
		},
		"a user override of a built-in default is checked": {
			files: map[string]string{"slack/default.tmpl": `{"text": "{{ .title }}"}`},
			want:  []string{"target chat", "{{TPL}}/slack/default.tmpl", `output contains "<no value>"`},
		},
		"templates of a disabled target are checked": {
			files:   map[string]string{"slack/custom.tmpl": `{{ .Event.Data.labels.team }}`},
			targets: "  - name: later\n    type: slack\n    webhook_url: ${SLACK_WEBHOOK_URL}\n",
			routes:  "  - {name: team, when: 'true', targets: [later], template: custom}\n",
			want:    []string{"routes[1] (team) → target later", `map has no entry for key "labels"`},
		},
		"route template missing for one of its target types": {
			files:   map[string]string{"slack/custom.tmpl": `{{ dict "text" .Event.Type | toJson }}`},
			routes:  "  - {name: both, when: 'true', targets: [chat, dev], template: custom}\n",
			want:    []string{`routes[1] (both) → target dev: template "custom" not found for target dev (type discord)`},
			notWant: []string{"target chat"},
		},
		"target template missing": {
			targets: "  - name: other\n    type: slack\n    webhook_url: https://hooks.slack.com/services/T000/B000/YYYY\n    template: nope\n",
			want:    []string{`target other: template "nope" not found for target other (type slack)`},
		},
		"template that does not parse": {
			files: map[string]string{"slack/custom.tmpl": `{{ if }}`},
			want:  []string{"{{TPL}}/slack/custom.tmpl", "missing value for if"},
		},
		"template that is not JSON": {
			files:  map[string]string{"discord/custom.tmpl": `text: {{ .Event.Type }}`},
			routes: "  - {name: plain, when: 'true', targets: [dev], template: custom}\n",
			want:   []string{"routes[1] (plain) → target dev", "did not render valid JSON", "{{TPL}}/discord/custom.tmpl"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tpl := filepath.Join(b.dir, "templates")
			require.NoError(t, os.MkdirAll(tpl, 0o750))
			for rel, content := range tt.files {
				b.write(t, "templates/"+rel, content)
			}
			cfg, err := b.parse(t, templateConfig(tpl, tt.targets, tt.routes), nil)
			require.NoError(t, err)
			rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
			require.Error(t, err)
			require.Nil(t, rt)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), strings.ReplaceAll(w, "{{TPL}}", tpl))
			}
			for _, w := range tt.notWant {
				require.NotContains(t, err.Error(), w)
			}
		})
	}
}

// TestBuild_UserTemplates: templates that render for every sample build, and the renderer uses
// them.
func TestBuild_UserTemplates(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		file     string // under the templates folder
		template string
		target   string
		want     string // rendered body for the issue.critical sample
	}{
		"type-less template serves slack": {
			file:     "custom.tmpl",
			template: `{{ dict "text" (.title | default .Event.Type) | toJson }}`,
			target:   "chat",
			want:     `{"text":"SQL Injection Vulnerability"}`,
		},
		"type-less template serves discord": {
			file:     "custom.tmpl",
			template: `{{ dict "content" (.title | default .Event.Type) | toJson }}`,
			target:   "dev",
			want:     `{"content":"SQL Injection Vulnerability"}`,
		},
		"guarded optional data key": {
			file:     "slack/custom.tmpl",
			template: `{{ dict "text" (dig "labels" "team" "none" .Event.Data) | toJson }}`,
			target:   "chat",
			want:     `{"text":"none"}`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.write(t, "templates/"+tt.file, tt.template)
			// A relative templates.dir is found next to the config, not in the working directory.
			cfg, err := b.parse(t, templateConfig("templates", "", "  - {name: custom, when: 'true', targets: ["+tt.target+"], template: custom}\n"), nil)
			require.NoError(t, err)
			rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
			require.NoError(t, err)

			route := rt.Router.Routes[1]
			require.Equal(t, "custom", route.Template)
			target := rt.Targets[slices.IndexFunc(rt.Targets, func(x *core.Target) bool { return x.Name == tt.target })]
			body, err := samples.Get("issue.critical")
			require.NoError(t, err)
			ev, err := event.Parse(body)
			require.NoError(t, err)
			msg := core.SampleMessage(ev, target, route)
			require.NoError(t, rt.Renderer.Render(msg, target, route))
			require.JSONEq(t, tt.want, string(msg.Body))
		})
	}
}

// TestBuild_ListsEveryProblem is the issue's acceptance case: a typo'd key, a rule that does not
// compile, a template with a missing key and a route naming an unknown target are all listed by
// one Build of the Config that Parse returned with its error, each with its key path.
func TestBuild_ListsEveryProblem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tpl := filepath.Dir(filepath.Dir(b.write(t, "templates/slack/custom.tmpl", `{{ .Event.Data.labels.team }}`)))
	src := templateConfig(tpl, "  - name: typo\n    type: slack\n    webhok_url: https://hooks.slack.com/services/T000/B000/ZZZZ\n",
		"  - {name: bad-rule, when: 'scroe < 70', targets: [audit]}\n"+
			"  - {name: team, when: 'true', targets: [chat], template: custom}\n"+
			"  - {name: lost, when: 'true', targets: [nope]}\n")

	cfg, err := b.parse(t, src, nil)
	requireKeyErrors(t, src, err,
		wantKey{"targets[3].webhok_url", "webhok_url:", `did you mean "webhook_url"?`},
		wantKey{"routes[1].when", "scroe < 70", `route "bad-rule"`},
		wantKey{"routes[3].targets[0]", "[nope]", `no target named "nope"`},
	)
	require.NotNil(t, cfg, "Parse returns the Config with its error, for Build to check the templates")

	rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
	require.Nil(t, rt)
	require.Error(t, err)
	for _, want := range []string{
		fmt.Sprintf(`line %d: targets[3].webhok_url: unknown key (did you mean "webhook_url"?)`, lineOf(t, src, "webhok_url")),
		fmt.Sprintf(`line %d: routes[1].when: route "bad-rule": rules: unknown name scroe`, lineOf(t, src, "scroe")),
		fmt.Sprintf(`line %d: routes[3].targets[0]: no target named "nope"`, lineOf(t, src, "[nope]")),
		"routes[2] (team) → target chat: with sample issue.critical, scan.completed, scan.failed, scan.progress, scan.started, scan.timeout, group of all samples: template slack/custom (" + filepath.Join(tpl, "slack", "custom.tmpl") + ")",
		`map has no entry for key "labels"`,
	} {
		require.Contains(t, err.Error(), want)
	}
}

// TestBuild_InvalidConfigOpensNothing: Build of an invalid config reports its problems and
// builds no notifier, even without DryRun.
func TestBuild_InvalidConfigOpensNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	auditLog := filepath.Join(b.dir, "audit", "audit.jsonl")
	src := strings.Replace(minimal, "path: audit.jsonl", "path: "+auditLog, 1) +
		"  - name: siem\n    type: webhook\n    url: https://siem.example.com/hook\n    secret: s\n    retries: 3\n"
	cfg, err := b.parse(t, src, nil)
	requireKeyErrors(t, src, err, wantKey{"targets[1].retries", "retries: 3", "unknown key"})
	rt, err := config.Build(cfg, config.BuildOptions{Version: "test"})
	require.Nil(t, rt)
	require.ErrorContains(t, err, "targets[1].retries: unknown key")
	require.NoFileExists(t, auditLog)
}

func TestParse_Defaults(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		src   string
		check func(t *testing.T, c *config.Config, dir string)
	}{
		"almost empty config": {
			src: minimal,
			check: func(t *testing.T, c *config.Config, dir string) {
				require.Equal(t, "127.0.0.1:8080", c.Server.Listen)
				require.Equal(t, "sqlite", c.Storage.Driver)
				require.Equal(t, filepath.Join(dir, "data/cortex-bridge.db"), c.Storage.DSN, "relative to the config file")
				require.Equal(t, 720*time.Hour, c.Storage.Retention)
				require.Equal(t, "/webhooks/cortex", c.Ingest.Path)
				require.Equal(t, 5*time.Minute, c.Ingest.Tolerance)
				require.EqualValues(t, 1048576, c.Ingest.MaxBodyBytes)
				require.Equal(t, config.RateLimit{PerSecond: 500, Burst: 1000}, c.Ingest.RateLimit)
				require.False(t, c.Ingest.StrictEvents)
				require.Equal(t, 30*time.Second, c.Delivery.Timeout)
				require.Equal(t, 4, c.Delivery.MaxAttempts)
				require.Equal(t, config.Backoff{Initial: 5 * time.Second, Max: 10 * time.Minute}, c.Delivery.Backoff)
				require.Equal(t, 10, c.API.MaxWebhooksPerAccount)
				require.Equal(t, 64, c.Targets[0].Concurrency, "a file target's lines share fsyncs")
				require.Nil(t, c.Targets[0].RateLimit)
				require.Equal(t, filepath.Join(dir, "templates"), c.Templates.Dir)
				require.Equal(t, templates.Limits{MaxOutputBytes: 4 << 20, MaxSteps: 10_000_000, MaxRenderTime: 10 * time.Second}, c.Templates.Limits())
			},
		},
		"template limits": {
			src: minimal + "templates:\n  max_output_bytes: 1000\n  max_render_steps: 5000\n  max_render_time: 2s\n",
			check: func(t *testing.T, c *config.Config, _ string) {
				require.Equal(t, templates.Limits{MaxOutputBytes: 1000, MaxSteps: 5000, MaxRenderTime: 2 * time.Second}, c.Templates.Limits())
			},
		},
		"a webhook target's concurrency": {
			src: minimal + siemTarget(""),
			check: func(t *testing.T, c *config.Config, _ string) {
				require.Equal(t, 4, c.Targets[1].Concurrency)
			},
		},
		"explicit values are kept": {
			src: minimal + "delivery:\n  timeout: 2s\n  max_attempts: 1\n  backoff: {initial: 1s, max: 1s}\n" +
				"storage:\n  retention: 1h\n",
			check: func(t *testing.T, c *config.Config, _ string) {
				require.Equal(t, 2*time.Second, c.Delivery.Timeout)
				require.Equal(t, 1, c.Delivery.MaxAttempts)
				require.Equal(t, config.Backoff{Initial: time.Second, Max: time.Second}, c.Delivery.Backoff)
				require.Equal(t, time.Hour, c.Storage.Retention)
			},
		},
		"email on port 465 is implicit TLS": {
			src: minimal + mailTarget("      port: 465\n"),
			check: func(t *testing.T, c *config.Config, _ string) {
				require.Equal(t, "implicit", config.AdapterConfig[*email.Config](&c.Targets[1]).SMTP.TLS)
				require.Equal(t, 10*time.Second, config.AdapterConfig[*email.Config](&c.Targets[1]).SMTP.DialTimeout)
			},
		},
		"email with implicit TLS defaults to port 465": {
			src: minimal + mailTarget("      tls: implicit\n"),
			check: func(t *testing.T, c *config.Config, _ string) {
				require.Equal(t, 465, config.AdapterConfig[*email.Config](&c.Targets[1]).SMTP.Port)
			},
		},
		"templates.dir is relative to the config's folder": {
			src: minimal + "templates: {dir: my-templates}\n",
			check: func(t *testing.T, c *config.Config, dir string) {
				require.Equal(t, filepath.Join(dir, "my-templates"), c.Templates.Dir)
			},
		},
		"absolute templates.dir is kept": {
			src: minimal + "templates: {dir: /etc/cortex-bridge/templates}\n",
			check: func(t *testing.T, c *config.Config, _ string) {
				require.Equal(t, "/etc/cortex-bridge/templates", c.Templates.Dir)
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cfg, err := b.parse(t, tt.src, nil)
			require.NoError(t, err)
			tt.check(t, cfg, b.dir)
		})
	}
}

// TestConfig_ValidateWithoutYAML: WithDefaults and Validate work on a Config built in Go; its
// errors name key paths (without lines).
func TestConfig_ValidateWithoutYAML(t *testing.T) {
	t.Parallel()
	c := &config.Config{
		Ingest:  config.Ingest{Secrets: []notify.Secret{"go-secret"}},
		Targets: []config.Target{{Name: "audit", Type: file.Type.Name}},
		Routes:  []config.Route{{Name: "all", When: "true", Targets: []string{"audit", "gone"}}},
	}
	c.Delivery.Backoff.Initial = time.Hour
	c.WithDefaults()
	require.Equal(t, 10*time.Minute, c.Delivery.Backoff.Max)
	err := c.Validate()
	got := keyErrors(t, err)
	require.Len(t, got, 2, "%v", err)
	require.Equal(t, config.KeyError{Path: "delivery.backoff.max", Msg: "must be at least backoff.initial (1h0m0s)"}, *got[0])
	require.Equal(t, `routes[0].targets[1]: no target named "gone" (targets: audit)`, got[1].Error())
}

func ExampleParse() {
	_, err := config.Parse([]byte(`
ingest:
  secrets: [example-secret]
targets:
  - name: alerts
    type: slack
    webhok_url: https://hooks.slack.com/services/T000/B000/XXXX
routes:
  - name: critical
    when: 'event == "issue.critical" && score >= "7"'
    targets: [alert]
`), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	fmt.Println(err)
	// Output:
	// line 7: targets[0].webhok_url: unknown key (did you mean "webhook_url"?)
	// line 10: routes[0].when: route "critical": rules: invalid operation: >= (mismatched types float64 and string) (1:36)
	//  | event == "issue.critical" && score >= "7"
	//  | ...................................^
	// line 11: routes[0].targets[0]: no target named "alert" (targets: alerts)
}

func ExampleBuild() {
	env := map[string]string{"SIEM_SECRET": "example-secret"}
	cfg, err := config.Parse([]byte(`
ingest:
  secrets: ["${CORTEX_WEBHOOK_SECRET:-dev-secret}"]
targets:
  - name: security-slack
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
  - name: siem
    type: webhook
    url: https://siem.example.com/hooks/cortex
    secret: ${SIEM_SECRET}
routes:
  - name: critical
    when: 'event == "issue.critical"'
    targets: [security-slack, siem]
`), config.Options{LookupEnv: lookup(env)})
	if err != nil {
		panic(err)
	}
	rt, err := config.Build(cfg, config.BuildOptions{DryRun: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Ingest.Secrets) // secrets print redacted
	for _, w := range rt.Warnings {
		fmt.Println(w)
	}
	// Output:
	// [<redacted>]
	// target security-slack (slack) is disabled: webhook_url (or token) is empty
}

// TestRestartKeys: a reload names the changed keys it cannot apply.
func TestRestartKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before, err := b.parse(t, minimal, nil)
	require.NoError(t, err)
	after, err := b.parse(t, minimal+"server: {listen: 127.0.0.1:9999}\napi: {max_webhooks_per_account: 3, require_https: false}\n", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"server.listen", "api.max_webhooks_per_account"}, before.RestartKeys(after))
	require.Empty(t, before.RestartKeys(before))
}

// TestBuild_WarnsAboutAnEmptyAPIKey: an account whose key variable is unset is named at startup.
func TestBuild_WarnsAboutAnEmptyAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg, err := b.parse(t, minimal+"api:\n  keys:\n    - {account: team-a, key: \"${TEAM_A_KEY}\"}\n", nil)
	require.NoError(t, err)
	rt, err := config.Build(cfg, config.BuildOptions{Version: "test", DryRun: true})
	require.NoError(t, err)
	defer rt.Close()
	require.Contains(t, rt.Warnings, "api.keys[0] (team-a): the key is empty (its variable unset?); this account cannot use the API or the dashboard")
}

// TestRetentionAndTolerance: a retention shorter than twice the tolerance is a valid config (the
// pruner keeps event ids for the replay window anyway, see api.Ingest.ReplayWindow); a negative
// retention is refused naming its key.
func TestRetentionAndTolerance(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		retention time.Duration
		want      string // "" valid
	}{
		"shorter than the tolerance":   {retention: time.Minute},
		"shorter than twice tolerance": {retention: 9 * time.Minute},
		"negative":                     {retention: -time.Hour, want: "storage.retention: must not be negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &config.Config{
				Ingest:  config.Ingest{Secrets: []notify.Secret{"go-secret"}, Tolerance: 5 * time.Minute},
				Storage: config.Storage{Retention: tc.retention},
				Targets: []config.Target{{Name: "audit", Type: file.Type.Name}},
				Routes:  []config.Route{{Name: "all", When: "true", Targets: []string{"audit"}}},
			}
			c.WithDefaults()
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestBuild_InternationalEmailAddresses: an email address with a non-ASCII local part is
// valid but warned about by its key path (it needs SMTPUTF8); an invalid international domain
// is an error at its key path.
func TestBuild_InternationalEmailAddresses(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		to       string
		wantWarn string
		wantPath string // error at this key path; "" = valid
	}{
		"unicode domain": {to: "[secops@bücher.example]"},
		"unicode local part": {to: "[ops@example.com, jörg@bücher.example]",
			wantWarn: `targets[1].to[1]: "jörg@bücher.example" has a non-ASCII local part`},
		"invalid idn": {to: "[ops@example.com, a@bü_cher.example]", wantPath: "targets[1].to[1]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			src := strings.Replace(minimal+mailTarget(""), "to: [ops@example.com]", "to: "+tc.to, 1)
			cfg, err := b.parse(t, src, nil)
			if tc.wantPath != "" {
				var ke *config.KeyError
				require.ErrorAs(t, err, &ke)
				require.Equal(t, tc.wantPath, ke.Path)
				require.Contains(t, ke.Msg, "not a valid international domain name")
				return
			}
			require.NoError(t, err)
			rt, err := config.Build(cfg, config.BuildOptions{Version: "test", DryRun: true})
			require.NoError(t, err)
			defer rt.Close()
			var mail []string
			for _, w := range rt.Warnings {
				if strings.HasPrefix(w, "targets[1].") {
					mail = append(mail, w)
				}
			}
			if tc.wantWarn == "" {
				require.Empty(t, mail)
				return
			}
			require.Len(t, mail, 1)
			require.True(t, strings.HasPrefix(mail[0], tc.wantWarn), mail[0])
			require.Contains(t, mail[0], "SMTPUTF8")
			require.Contains(t, mail[0], "(target mail)")
		})
	}
}
