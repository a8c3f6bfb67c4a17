{{/* The wrapper's objects share the subchart's name (openbao.fullnameOverride). */}}
{{- define "nvcf-openbao.fullname" -}}
{{- .Values.openbao.fullnameOverride | default (printf "%s-openbao" .Release.Name) -}}
{{- end -}}

{{- define "nvcf-openbao.namespace" -}}
{{- .Values.openbao.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "nvcf-openbao.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* registry/repository:tag of an image map. */}}
{{- define "nvcf-openbao.image" -}}
{{- printf "%s/%s:%s" (toString .registry) (toString .repository) (toString .tag) -}}
{{- end -}}

{{/*
The tag of an image reference: what follows the last ":" of the last path
segment, digest dropped; "latest" when there is none (what a runtime pulls).
*/}}
{{- define "nvcf-openbao.imageTag" -}}
{{- $ref := first (splitList "@" .) -}}
{{- $last := last (splitList "/" $ref) -}}
{{- if contains ":" $last -}}
{{- last (splitList ":" $last) -}}
{{- else -}}
latest
{{- end -}}
{{- end -}}

{{/* Pod settings shared by the hook jobs. Call with (dict "hook" <hooks.X> "root" $). */}}
{{- define "nvcf-openbao.hookPod" -}}
{{- with .hook.schedulingGates }}
schedulingGates:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.openbao.server.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.openbao.server.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
