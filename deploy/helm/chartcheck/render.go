// Package chartcheck lints and renders the Helm chart in deploy/helm/cortex-bridge the way
// `helm lint` and `helm template` do, through Helm's own packages (helm.sh/helm/v4), and decodes
// the manifests into Kubernetes' API types so its test can check them. It is a Go module of its
// own so that the bridge's module does not depend on Helm and Kubernetes; the README's test
// command runs it.
package chartcheck

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Release is the name and namespace every render uses, as `helm template cb . -n bridge`.
var Release = common.ReleaseOptions{Name: "cb", Namespace: "bridge", IsInstall: true}

// Lint runs Helm's chart linter (Chart.yaml, values, templates rendered with vals) and returns
// its messages at warning level or above, formatted like `helm lint` prints them.
func Lint(chartDir string, vals map[string]any) []string {
	var out []string
	for _, m := range lint.RunAll(chartDir, vals, Release.Namespace).Messages {
		if m.Severity >= support.WarningSev {
			out = append(out, m.Error())
		}
	}
	return out
}

// Manifests are the objects one render produced, by kind; a kind the chart does not make
// stays empty. Other holds kinds outside Kubernetes' core API (the ServiceMonitor) as maps.
type Manifests struct {
	Deployments []appsv1.Deployment
	Services    []corev1.Service
	ConfigMaps  []corev1.ConfigMap
	Secrets     []corev1.Secret
	Claims      []corev1.PersistentVolumeClaim
	Other       []map[string]any
}

// Render loads the chart, merges vals over its values.yaml and renders every template, then
// decodes each manifest strictly (an unknown field is an error, as the API server's strict
// field validation would report it).
func Render(chartDir string, vals map[string]any) (*Manifests, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	values, err := util.ToRenderValues(ch, vals, Release, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, values)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	m := &Manifests{}
	var errs []error
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, helpers
		}
		for doc := range strings.SplitSeq(files[name], "\n---") {
			if err := m.add([]byte(doc)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	return m, errors.Join(errs...)
}

func (m *Manifests) add(doc []byte) error {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	switch head.Kind {
	case "":
		return nil // a template that rendered nothing
	case "Deployment":
		return addStrict(doc, &m.Deployments)
	case "Service":
		return addStrict(doc, &m.Services)
	case "ConfigMap":
		return addStrict(doc, &m.ConfigMaps)
	case "Secret":
		return addStrict(doc, &m.Secrets)
	case "PersistentVolumeClaim":
		return addStrict(doc, &m.Claims)
	default:
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return err
		}
		m.Other = append(m.Other, obj)
		return nil
	}
}

func addStrict[T any](doc []byte, to *[]T) error {
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		return err
	}
	*to = append(*to, v)
	return nil
}
