package chartcheck_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/cortexbridge/cortex-bridge/deploy/helm/chartcheck"
)

const (
	chartDir = "../cortex-bridge"
	repoRoot = "../../.."
)

// The two storage modes as an operator would install them.
var (
	sqliteValues = map[string]any{
		"secrets": map[string]any{"values": map[string]any{"CORTEX_WEBHOOK_SECRET": "whsec-test"}},
	}
	postgresValues = map[string]any{
		"replicaCount": 3,
		"storage":      map[string]any{"driver": "postgres"},
		"secrets":      map[string]any{"existingSecret": "bridge-secrets"},
		"env":          map[string]any{"SMTP_HOST": "relay.mail.svc", "SMTP_PORT": 25, "SMTP_TLS": "none"},
		"metrics":      map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}},
	}
	// bridgeSecrets stands for the Secret bridge-secrets the postgres install names.
	bridgeSecrets = map[string]string{
		"CORTEX_BRIDGE_DB":      "postgres://bridge:pw@postgres.db.svc:5432/bridge?sslmode=disable",
		"CORTEX_WEBHOOK_SECRET": "whsec-test",
	}
)

func TestLint(t *testing.T) {
	t.Parallel()
	for name, vals := range map[string]map[string]any{"defaults": nil, "sqlite": sqliteValues, "postgres": postgresValues} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Empty(t, chartcheck.Lint(chartDir, vals))
		})
	}
}

func render(t *testing.T, vals map[string]any) *chartcheck.Manifests {
	t.Helper()
	m, err := chartcheck.Render(chartDir, vals)
	require.NoError(t, err)
	require.Len(t, m.Deployments, 1)
	require.Len(t, m.Services, 1)
	require.Len(t, m.ConfigMaps, 1)
	return m
}

func container(t *testing.T, d appsv1.Deployment) corev1.Container {
	t.Helper()
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	return d.Spec.Template.Spec.Containers[0]
}

func envVar(t *testing.T, c corev1.Container, name string) corev1.EnvVar {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			return e
		}
	}
	require.Failf(t, "no such variable", "%s is not in the container's env", name)
	return corev1.EnvVar{}
}

func volume(t *testing.T, d appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	require.Failf(t, "no such volume", "%s", name)
	return corev1.Volume{}
}

// checkCommon: what both modes share — probes, the Secret as environment and files, the
// config from the ConfigMap, the non-root user, and a Service selecting the pods.
func checkCommon(t *testing.T, m *chartcheck.Manifests, secretName string) corev1.Container {
	t.Helper()
	d := m.Deployments[0]
	c := container(t, d)
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "http", c.LivenessProbe.HTTPGet.Port.StrVal)
	require.Equal(t, "http", c.ReadinessProbe.HTTPGet.Port.StrVal)
	require.Equal(t, int32(8080), c.Ports[0].ContainerPort)
	require.Equal(t, "0.0.0.0:8080", envVar(t, c, "CORTEX_BRIDGE_LISTEN").Value)

	require.Len(t, c.EnvFrom, 1)
	require.Equal(t, secretName, c.EnvFrom[0].SecretRef.Name)
	require.Equal(t, secretName, volume(t, d, "secrets").Secret.SecretName)

	require.Equal(t, "/etc/cortex-bridge/config.yaml", envVar(t, c, "CORTEX_BRIDGE_CONFIG").Value)
	require.Equal(t, m.ConfigMaps[0].Name, volume(t, d, "config").ConfigMap.Name)
	require.Contains(t, m.ConfigMaps[0].Data, "config.yaml")
	require.NotEmpty(t, d.Spec.Template.Annotations["checksum/config"], "a config change rolls the pods")

	sc := d.Spec.Template.Spec.SecurityContext
	require.True(t, *sc.RunAsNonRoot)
	require.Equal(t, int64(65532), *sc.RunAsUser, "the image's nonroot user")
	require.Equal(t, int64(65532), *sc.FSGroup, "/data writable by it")
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)

	svc := m.Services[0]
	require.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector)
	require.Equal(t, d.Spec.Selector.MatchLabels, labelsSubset(d.Spec.Template.Labels, d.Spec.Selector.MatchLabels))
	require.Equal(t, "http", svc.Spec.Ports[0].TargetPort.StrVal)
	return c
}

func labelsSubset(all, want map[string]string) map[string]string {
	out := map[string]string{}
	for k := range want {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	return out
}

// TestModes renders both storage modes and checks what differs: replicas, where /data and the
// database URL come from, the Secret, the ServiceMonitor; then runs `cortex-bridge validate` on
// the rendered config with the pod's environment.
func TestModes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		vals     map[string]any
		secret   string            // the Secret the pods read
		contents map[string]string // what that Secret holds, when the chart does not make it
		replicas int32
		strategy appsv1.DeploymentStrategyType
		check    func(t *testing.T, m *chartcheck.Manifests, c corev1.Container)
	}{
		"sqlite": {
			vals:     sqliteValues,
			secret:   "cb-cortex-bridge",
			replicas: 1,
			strategy: appsv1.RecreateDeploymentStrategyType, // one pod at a time owns the volume
			check: func(t *testing.T, m *chartcheck.Manifests, c corev1.Container) {
				require.Equal(t, "/data/cortex-bridge.db", envVar(t, c, "CORTEX_BRIDGE_DB").Value)
				require.Len(t, m.Claims, 1)
				require.Equal(t, m.Claims[0].Name, volume(t, m.Deployments[0], "data").PersistentVolumeClaim.ClaimName)
				require.Equal(t, "1Gi", m.Claims[0].Spec.Resources.Requests.Storage().String())
				require.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})

				require.Len(t, m.Secrets, 1, "the chart's own Secret, from secrets.values")
				require.Equal(t, "whsec-test", m.Secrets[0].StringData["CORTEX_WEBHOOK_SECRET"])
				require.Empty(t, m.Other, "no ServiceMonitor unless enabled")

				shipped, err := os.ReadFile(filepath.Join(repoRoot, "config.yaml"))
				require.NoError(t, err)
				require.Equal(t, string(shipped), m.ConfigMaps[0].Data["config.yaml"], "the default config is the repository's")
			},
		},
		"postgres": {
			vals:     postgresValues,
			secret:   "bridge-secrets",
			contents: bridgeSecrets,
			replicas: 3,
			check: func(t *testing.T, m *chartcheck.Manifests, c corev1.Container) {
				ref := envVar(t, c, "CORTEX_BRIDGE_DB").ValueFrom.SecretKeyRef
				require.Equal(t, "bridge-secrets", ref.Name)
				require.Equal(t, "CORTEX_BRIDGE_DB", ref.Key)
				require.Equal(t, "none", envVar(t, c, "SMTP_TLS").Value)
				require.Equal(t, "25", envVar(t, c, "SMTP_PORT").Value)

				require.Empty(t, m.Claims, "replicas share PostgreSQL, not a volume")
				require.NotNil(t, volume(t, m.Deployments[0], "data").EmptyDir)
				require.Empty(t, m.Secrets, "an existing Secret is used, none is made")
				checkServiceMonitor(t, m)
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := render(t, tt.vals)
			c := checkCommon(t, m, tt.secret)
			d := m.Deployments[0]
			require.Equal(t, tt.replicas, *d.Spec.Replicas)
			require.Equal(t, tt.strategy, d.Spec.Strategy.Type)
			require.Equal(t, name, envVar(t, c, "CORTEX_BRIDGE_DB_DRIVER").Value)
			tt.check(t, m, c)
			validate(t, m, tt.contents)
		})
	}
}

// checkServiceMonitor: one ServiceMonitor, with the labels asked for, selecting the Service and
// scraping /metrics on its http port.
func checkServiceMonitor(t *testing.T, m *chartcheck.Manifests) {
	t.Helper()
	require.Len(t, m.Other, 1)
	sm := m.Other[0]
	require.Equal(t, "monitoring.coreos.com/v1", sm["apiVersion"])
	require.Equal(t, "ServiceMonitor", sm["kind"])
	meta := sm["metadata"].(map[string]any)
	require.Equal(t, "prometheus", meta["labels"].(map[string]any)["release"])
	spec := sm["spec"].(map[string]any)
	sel := spec["selector"].(map[string]any)["matchLabels"].(map[string]any)
	require.NotEmpty(t, sel)
	for k, v := range sel {
		require.Equal(t, v, m.Services[0].Labels[k], "the ServiceMonitor selects the Service (%s)", k)
	}
	ep := spec["endpoints"].([]any)[0].(map[string]any)
	require.Equal(t, "http", ep["port"])
	require.Equal(t, "/metrics", ep["path"])
}

func TestSQLiteIgnoresReplicaCount(t *testing.T) {
	t.Parallel()
	m := render(t, map[string]any{"replicaCount": 4})
	require.Equal(t, int32(1), *m.Deployments[0].Spec.Replicas)
}

func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		vals map[string]any
		want string
	}{
		"postgres without a database URL": {
			vals: map[string]any{"storage": map[string]any{"driver": "postgres"}},
			want: "storage.driver postgres needs the database URL in a Secret",
		},
		"unknown driver": {
			vals: map[string]any{"storage": map[string]any{"driver": "mysql"}},
			want: `storage.driver must be sqlite or postgres, got "mysql"`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := chartcheck.Render(chartDir, tt.vals)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCustomConfig(t *testing.T) {
	t.Parallel()
	custom := "server:\n  listen: ${CORTEX_BRIDGE_LISTEN}\n"
	a := render(t, map[string]any{"config": custom})
	require.Equal(t, custom, a.ConfigMaps[0].Data["config.yaml"])
	b := render(t, nil)
	require.NotEqual(t, a.Deployments[0].Spec.Template.Annotations["checksum/config"],
		b.Deployments[0].Spec.Template.Annotations["checksum/config"])
}
