{{- define "nvcf-cassandra.namespace" -}}
{{- .Values.cassandra.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "nvcf-cassandra.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* registry/repository:tag of an image map. */}}
{{- define "nvcf-cassandra.image" -}}
{{- printf "%s/%s:%s" (toString .registry) (toString .repository) (toString .tag) -}}
{{- end -}}

{{/* Pod settings shared by the hook jobs. Call with (dict "hook" <hooks.X> "root" $). */}}
{{- define "nvcf-cassandra.hookPod" -}}
{{- $c := .root.Values.cassandra -}}
{{- with .hook.schedulingGates }}
schedulingGates:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
