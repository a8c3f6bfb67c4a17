{{- define "nvcf-nats.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/*
A random nkey-shaped string: prefix + base32 alphabet. Stand-in only: the
published chart derives real ed25519 nkeys; tests only need the shape.
*/}}
{{- define "nvcf-nats.fakeNkey" -}}
{{- $alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" -}}
{{- $out := .prefix -}}
{{- range until (int .len) -}}
{{- $i := randInt 0 32 -}}
{{- $out = printf "%s%s" $out (substr $i (add1 $i | int) $alphabet) -}}
{{- end -}}
{{- $out -}}
{{- end -}}
