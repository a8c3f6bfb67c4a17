{{/* An image map rendered as registry/repository:tag. */}}
{{- define "openbao.image" -}}
{{ .registry }}/{{ .repository }}:{{ .tag }}
{{- end -}}

{{- define "openbao.labels" -}}
app.kubernetes.io/name: openbao
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "openbao.hook" -}}
helm.sh/hook: post-install
helm.sh/hook-delete-policy: before-hook-creation
{{- end -}}
