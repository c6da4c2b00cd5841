package chartcheck_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cortexbridge/cortex-bridge/deploy/helm/chartcheck"
)

var bridge struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// bridgeBinary builds cmd/cortex-bridge once. With -race, like the README's go test -race
// just before, so its packages come from the build cache instead of a second compile.
func bridgeBinary(t *testing.T) string {
	t.Helper()
	bridge.once.Do(func() {
		dir, err := os.MkdirTemp("", "chartcheck")
		if err != nil {
			bridge.err = err
			return
		}
		bridge.path = filepath.Join(dir, "cortex-bridge")
		cmd := exec.Command("go", "build", "-race", "-o", bridge.path, "./cmd/cortex-bridge")
		cmd.Dir = repoRoot
		bridge.out, bridge.err = cmd.CombinedOutput()
	})
	require.NoError(t, bridge.err, "building cortex-bridge: %s", bridge.out)
	return bridge.path
}

// validate runs `cortex-bridge validate` on the rendered ConfigMap with the container's
// environment: plain values as rendered, secret references resolved from secrets (and the
// chart's own Secret), and /data mapped to a temporary folder.
func validate(t *testing.T, m *chartcheck.Manifests, secrets map[string]string) {
	t.Helper()
	bin := bridgeBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(m.ConfigMaps[0].Data["config.yaml"]), 0o600))
	dataDir := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(dataDir, 0o700))

	all := map[string]string{}
	for k, v := range secrets {
		all[k] = v
	}
	for _, s := range m.Secrets {
		for k, v := range s.StringData {
			all[k] = v
		}
	}
	c := container(t, m.Deployments[0])
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range all { // envFrom: the Secret's keys, overridden by env
		env = append(env, k+"="+v)
	}
	for _, e := range c.Env {
		v := e.Value
		if ref := e.ValueFrom; ref != nil {
			v = all[ref.SecretKeyRef.Key]
			require.NotEmpty(t, v, "%s: secret key %s", e.Name, ref.SecretKeyRef.Key)
		}
		if e.Name == "CORTEX_BRIDGE_CONFIG" {
			v = cfg
		}
		env = append(env, e.Name+"="+strings.Replace(v, "/data/", dataDir+"/", 1))
	}
	cmd := exec.Command(bin, "validate")
	cmd.Env = env
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "cortex-bridge validate on the rendered config:\n%s", out)
	require.Contains(t, string(out), cfg+" is valid: ")
}
