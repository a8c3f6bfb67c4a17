{{/* An image map rendered as registry/repository:tag. */}}
{{- define "cassandra.image" -}}
{{ .registry }}/{{ .repository }}:{{ .tag }}
{{- end -}}

{{- define "cassandra.labels" -}}
app.kubernetes.io/name: cassandra
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "cassandra.selector" -}}
app.kubernetes.io/name: cassandra
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cassandra.hook" -}}
helm.sh/hook: post-install
helm.sh/hook-delete-policy: before-hook-creation
{{- end -}}
