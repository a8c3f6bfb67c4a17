{{- /* What this chart takes from Bitnami's `common` library chart, reduced. */ -}}

{{- define "cassandra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cassandra.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "cassandra.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "cassandra.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cassandra.matchLabels" -}}
app.kubernetes.io/name: {{ include "cassandra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cassandra.labels" -}}
{{ include "cassandra.matchLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/*
[registry/]repository:tag (or @digest); global.imageRegistry wins over the
image's own registry. Call with (dict "image" <image map> "global" .Values.global).
*/}}
{{- define "cassandra.image" -}}
{{- $registry := .global.imageRegistry | default .image.registry -}}
{{- $ref := toString .image.repository -}}
{{- with $registry -}}
{{- $ref = printf "%s/%s" . $ref -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "cassandra.storageClass" -}}
{{- $sc := .Values.persistence.storageClass | default .Values.global.defaultStorageClass -}}
{{- if eq $sc "-" -}}
storageClassName: ""
{{- else if $sc -}}
storageClassName: {{ $sc | quote }}
{{- end -}}
{{- end -}}

{{/* Bitnami's resource presets: requests/limits by name. */}}
{{- define "cassandra.resources.preset" -}}
{{- $presets := dict
  "nano" (dict "requests" (dict "cpu" "100m" "memory" "128Mi" "ephemeral-storage" "50Mi") "limits" (dict "cpu" "150m" "memory" "192Mi" "ephemeral-storage" "2Gi"))
  "micro" (dict "requests" (dict "cpu" "250m" "memory" "256Mi" "ephemeral-storage" "50Mi") "limits" (dict "cpu" "375m" "memory" "384Mi" "ephemeral-storage" "2Gi"))
  "small" (dict "requests" (dict "cpu" "500m" "memory" "512Mi" "ephemeral-storage" "50Mi") "limits" (dict "cpu" "750m" "memory" "768Mi" "ephemeral-storage" "2Gi"))
  "medium" (dict "requests" (dict "cpu" "500m" "memory" "1024Mi" "ephemeral-storage" "50Mi") "limits" (dict "cpu" "750m" "memory" "1536Mi" "ephemeral-storage" "2Gi"))
  "large" (dict "requests" (dict "cpu" "1.0" "memory" "2048Mi" "ephemeral-storage" "50Mi") "limits" (dict "cpu" "1.5" "memory" "3072Mi" "ephemeral-storage" "2Gi"))
  "xlarge" (dict "requests" (dict "cpu" "1.0" "memory" "3072Mi" "ephemeral-storage" "50Mi") "limits" (dict "cpu" "3.0" "memory" "6144Mi" "ephemeral-storage" "2Gi"))
  "2xlarge" (dict "requests" (dict "cpu" "1.0" "memory" "3072Mi" "ephemeral-storage" "50Mi") "limits" (dict "cpu" "6.0" "memory" "12288Mi" "ephemeral-storage" "2Gi"))
-}}
{{- if hasKey $presets .type -}}
{{- index $presets .type | toYaml -}}
{{- else -}}
{{- fail (printf "ERROR: resources preset %q is not valid (none, %s)" .type (keys $presets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}

{{/*
Image verification (Bitnami's common.errors.insecureImages, reduced): an
image whose registry or repository is not one of Chart.yaml's
annotations.images is refused unless global.security.allowInsecureImages.
A different tag alone is accepted.
*/}}
{{- define "cassandra.verifyImages" -}}
{{- $original := .context.Chart.Annotations.images -}}
{{- $global := .context.Values.global -}}
{{- $unrecognized := list -}}
{{- range .images -}}
{{- $registry := $global.imageRegistry | default .registry | toString -}}
{{- $noTag := printf "%s/%s" $registry (toString .repository) -}}
{{- if not (contains (printf "image: %s:" $noTag) $original) -}}
{{- $unrecognized = append $unrecognized (printf "%s:%s" $noTag (toString .tag)) -}}
{{- end -}}
{{- end -}}
{{- if and $unrecognized (not $global.security.allowInsecureImages) -}}
{{- $msg := "Original containers have been substituted for unrecognized ones. Deploying this chart with non-standard containers is likely to cause degraded security and performance, broken chart features, and missing environment variables.\n\nUnrecognized images:" -}}
{{- range $unrecognized -}}
{{- $msg = printf "%s\n  - %s" $msg . -}}
{{- end -}}
{{- fail (printf "%s\n\nIf you are sure you want to proceed with non-standard containers, you can skip container image verification by setting the global parameter 'global.security.allowInsecureImages' to true." $msg) -}}
{{- else if $unrecognized -}}
WARNING: Verifying original container images was skipped (global.security.allowInsecureImages).
{{- end -}}
{{- end -}}
