{{/* The release's resource name, cut to the 63 characters a DNS label allows. */}}
{{- define "cortex-bridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cortex-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cortex-bridge.labels" -}}
{{ include "cortex-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret the bridge's environment comes from: the user's, or the chart's own. */}}
{{- define "cortex-bridge.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "cortex-bridge.fullname" .) -}}
{{- end -}}

{{/* The config file's text. */}}
{{- define "cortex-bridge.config" -}}
{{- .Values.config | default (.Files.Get "files/config.yaml") -}}
{{- end -}}

{{/* Replicas: one on SQLite (a single process owns the file), replicaCount on PostgreSQL. */}}
{{- define "cortex-bridge.replicas" -}}
{{- if eq .Values.storage.driver "sqlite" -}}
1
{{- else if eq .Values.storage.driver "postgres" -}}
{{- .Values.replicaCount -}}
{{- else -}}
{{- fail (printf "storage.driver must be sqlite or postgres, got %q" .Values.storage.driver) -}}
{{- end -}}
{{- end -}}
