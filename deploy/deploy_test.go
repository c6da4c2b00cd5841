// Package deploy_test checks the deployment files that no Go code reads: the Dockerfile, the
// docker-compose.yml example and the systemd unit. This machine has no Docker daemon or systemd
// to run them, so each test checks what those would do with the file that can be checked here:
// the settings each passes to the shipped config.yaml give a config that loads, and keeps its
// state where the file says it persists. The Helm chart has its own module, deploy/helm/chartcheck.
package deploy_test

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/cortexbridge/cortex-bridge/adapters/file"
	"github.com/cortexbridge/cortex-bridge/adapters/webhook"
	"github.com/cortexbridge/cortex-bridge/config"
)

// The repository's files, seen from this package's directory.
const (
	shippedConfig = "../config.yaml"
	dockerfile    = "../Dockerfile"
	composeFile   = "../docker-compose.yml"
	systemdUnit   = "cortex-bridge.service"
	readme        = "../README.md"
)

// nonrootUID is the nonroot user of the distroless base image (gcr.io/distroless/*:nonroot).
const nonrootUID = "65532"

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// varRef is ${NAME} or ${NAME:-default}, in config.yaml as in docker-compose.yml.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// configVars lists the environment variables the shipped config reads.
func configVars(t *testing.T) map[string]bool {
	t.Helper()
	vars := map[string]bool{}
	for _, m := range varRef.FindAllStringSubmatch(read(t, shippedConfig), -1) {
		vars[m[1]] = true
	}
	require.NotEmpty(t, vars)
	return vars
}

// loadShipped parses the shipped config as if it were at dir with env as the whole environment,
// and builds it without starting anything.
func loadShipped(t *testing.T, src, dir string, env map[string]string) *config.Config {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Parse([]byte(src), config.Options{LookupEnv: lookup, Dir: dir})
	require.NoError(t, err)
	_, err = config.Build(cfg, config.BuildOptions{DryRun: true})
	require.NoError(t, err)
	return cfg
}

// instructions splits a Dockerfile into instructions (continuation lines joined, comments
// dropped), each as its keyword and the rest.
func instructions(src string) [][2]string {
	var out [][2]string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
		if cont {
			continue
		}
		kw, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, [2]string{strings.ToUpper(kw), strings.TrimSpace(rest)})
		cur.Reset()
	}
	return out
}

// TestDockerfile: the runtime stage has /data owned by the nonroot user before declaring it a
// volume (Docker copies an image folder's owner into a new named volume, so `-v
// cortex-data:/data` is writable), runs as that user, and its ENV points the shipped config's
// database and audit log into /data.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins := instructions(read(t, dockerfile))
	var stages, made []string
	env := map[string]string{}
	var dataCopied, volume bool
	user := ""
	for _, in := range ins {
		kw, rest := in[0], in[1]
		switch kw {
		case "FROM":
			stages = append(stages, rest)
			env = map[string]string{}
		case "RUN":
			if dir, ok := strings.CutPrefix(rest, "mkdir -p "); ok {
				made = append(made, strings.Fields(dir)...)
			}
		case "COPY":
			f := strings.Fields(rest)
			if f[len(f)-1] == "/data" {
				require.Contains(t, f, "--chown="+nonrootUID+":"+nonrootUID, "COPY to /data: %s", rest)
				require.Contains(t, made, f[len(f)-2], "the copied folder is made in the build stage")
				require.False(t, volume, "/data must be populated before VOLUME /data")
				dataCopied = true
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "ENV %s: use KEY=value", kv)
				env[k] = v
			}
		case "VOLUME":
			volume = rest == "/data"
		case "USER":
			user = rest
		}
	}
	require.Len(t, stages, 2)
	require.Contains(t, stages[1], ":nonroot")
	require.True(t, dataCopied, "the runtime stage creates /data")
	require.True(t, volume, "VOLUME /data")
	require.Equal(t, "nonroot:nonroot", user)

	vars := configVars(t)
	for k := range env {
		require.True(t, vars[k] || k == "CORTEX_BRIDGE_CONFIG", "ENV %s is not read by config.yaml", k)
	}
	require.Equal(t, "/etc/cortex-bridge/config.yaml", env["CORTEX_BRIDGE_CONFIG"])
	cfg := loadShipped(t, read(t, shippedConfig), "/etc/cortex-bridge", env)
	require.Equal(t, "0.0.0.0:8080", cfg.Server.Listen)
	require.Equal(t, "/data/cortex-bridge.db", cfg.Storage.DSN)
	for i, tgt := range cfg.Targets {
		if f := config.AdapterConfig[*file.Config](&cfg.Targets[i]); f != nil {
			require.True(t, strings.HasPrefix(f.Path, "/data/"), "%s writes %s, outside the volume", tgt.Name, f.Path)
		}
	}
}

// TestCompose: PostgreSQL and one bridge service with two replicas (so both have the same
// config), whose variables are all read by the shipped config and whose DSN reaches the
// postgres service with its user, password and database.
func TestCompose(t *testing.T) {
	t.Parallel()
	var doc struct {
		Services map[string]struct {
			Image       string                 `yaml:"image"`
			Build       string                 `yaml:"build"`
			Deploy      struct{ Replicas int } `yaml:"deploy"`
			Ports       []string               `yaml:"ports"`
			Environment yaml.Node              `yaml:"environment"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(read(t, composeFile)), &doc))
	require.Len(t, doc.Services, 2)
	pg, bridge := doc.Services["postgres"], doc.Services["bridge"]
	require.True(t, strings.HasPrefix(pg.Image, "postgres:"), pg.Image)
	require.Equal(t, ".", bridge.Build, "the bridge is built from this repository's Dockerfile")
	require.Equal(t, 2, bridge.Deploy.Replicas)
	require.Equal(t, []string{"8081-8082:8080"}, bridge.Ports, "one host port per replica")
	require.Equal(t, "service_healthy", bridge.DependsOn["postgres"].Condition)

	// Compose's own ${VAR:-default}, with nothing set in the shell.
	interpolate := func(s string) string { return varRef.ReplaceAllString(s, "$2") }
	pgEnv := map[string]string{}
	require.NoError(t, pg.Environment.Decode(&pgEnv))
	var list []string
	require.NoError(t, bridge.Environment.Decode(&list))
	env := map[string]string{}
	vars := configVars(t)
	for _, item := range list {
		k, v, set := strings.Cut(item, "=")
		require.True(t, vars[k], "%s is not read by config.yaml", k)
		if set {
			env[k] = interpolate(v)
		}
	}
	require.Equal(t, "postgres", env["CORTEX_BRIDGE_DB_DRIVER"])
	u, err := url.Parse(env["CORTEX_BRIDGE_DB"])
	require.NoError(t, err)
	require.Equal(t, "postgres:5432", u.Host, "the DSN names the postgres service")
	pass, _ := u.User.Password()
	require.Equal(t, interpolate(pgEnv["POSTGRES_USER"]), u.User.Username())
	require.Equal(t, interpolate(pgEnv["POSTGRES_PASSWORD"]), pass)
	require.Equal(t, "/"+interpolate(pgEnv["POSTGRES_DB"]), u.Path)

	cfg := loadShipped(t, read(t, shippedConfig), "/etc/cortex-bridge", env)
	require.Equal(t, "postgres", cfg.Storage.Driver)
	require.Equal(t, env["CORTEX_BRIDGE_DB"], cfg.Storage.DSN)
}

// TestSystemdUnit: the unit's Environment= variables are the shipped config's, and the README's
// secret_file example reads the file LoadCredential= hands the dynamic user.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	unit := map[string][]string{}
	for line := range strings.Lines(read(t, systemdUnit)) {
		line = strings.TrimSpace(line)
		if l, ok := strings.CutPrefix(line, "#LoadCredential="); ok {
			line = "LoadCredential=" + l // the examples, commented until their files exist
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			unit[k] = append(unit[k], v)
		}
	}
	require.Equal(t, []string{"yes"}, unit["DynamicUser"])
	require.Equal(t, []string{"/usr/local/bin/cortex-bridge validate"}, unit["ExecStartPre"])
	vars := configVars(t)
	for _, e := range unit["Environment"] {
		k, _, _ := strings.Cut(e, "=")
		require.True(t, vars[k] || k == "CORTEX_BRIDGE_CONFIG", "Environment=%s is not read by config.yaml", e)
	}
	creds := map[string]string{}
	for _, c := range unit["LoadCredential"] {
		id, path, ok := strings.Cut(c, ":")
		require.True(t, ok, "LoadCredential=%s: ID:PATH", c)
		creds[id] = path
	}

	// The README's example, in the shipped config's siem target, with the file where the unit's
	// credential puts it.
	example := regexp.MustCompile(`secret_file: (\$\{CREDENTIALS_DIRECTORY:-(/[^}]+)\}/([a-z-]+))`).FindStringSubmatch(read(t, readme))
	require.NotNil(t, example, "README.md's secret_file example reads from ${CREDENTIALS_DIRECTORY:-…}")
	require.Equal(t, example[2]+"/"+example[3], creds[example[3]], "the unit loads the README's %s", example[3])
	src := read(t, shippedConfig)
	require.Contains(t, src, "secret: ${SIEM_WEBHOOK_SECRET}")
	src = strings.Replace(src, "secret: ${SIEM_WEBHOOK_SECRET}", "secret_file: "+example[1], 1)

	credDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(credDir, example[3]), []byte("from-credential\n"), 0o400))
	cfg := loadShipped(t, src, t.TempDir(), map[string]string{"CREDENTIALS_DIRECTORY": credDir})
	i := slices.IndexFunc(cfg.Targets, func(tgt config.Target) bool { return tgt.Name == "siem" })
	require.GreaterOrEqual(t, i, 0)
	siem := cfg.Targets[i]
	require.Equal(t, "from-credential", config.AdapterConfig[*webhook.Config](&siem).Secret.Reveal())
	require.Empty(t, siem.Disabled())
}
