{{- define "cassandra.namespace" -}}
{{- .Values.cassandra.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "cassandra.selector" -}}
app.kubernetes.io/name: cassandra
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cassandra.labels" -}}
{{ include "cassandra.selector" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* registry/repository:tag of an image map. */}}
{{- define "cassandra.image" -}}
{{- printf "%s/%s:%s" (toString .registry) (toString .repository) (toString .tag) -}}
{{- end -}}

{{/*
Resource presets, as (request cpu, request memory Mi, limit cpu, limit memory Mi):
the same table as Bitnami's common chart, so a preset means the same thing
in both chart generations.
*/}}
{{- define "cassandra.presets" -}}
nano: ["100m", 128, "150m", 192]
micro: ["250m", 256, "375m", 384]
small: ["500m", 512, "750m", 768]
medium: ["500m", 1024, "750m", 1536]
large: ["1.0", 2048, "1.5", 3072]
xlarge: ["1.0", 3072, "3.0", 6144]
2xlarge: ["1.0", 3072, "6.0", 12288]
{{- end -}}

{{/* The preset's row, or a failure naming the valid presets. Not for "none". */}}
{{- define "cassandra.preset" -}}
{{- $presets := include "cassandra.presets" . | fromYaml -}}
{{- $name := .Values.cassandra.resourcesPreset -}}
{{- if not (hasKey $presets $name) -}}
{{- fail (printf "cassandra.resourcesPreset %q is not one of none, %s" $name (keys $presets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- index $presets $name | toJson -}}
{{- end -}}

{{/* The container's resources: `resources` when set, else the preset's. */}}
{{- define "cassandra.resources" -}}
{{- $c := .Values.cassandra -}}
{{- if $c.resources -}}
{{- toYaml $c.resources -}}
{{- else if ne $c.resourcesPreset "none" -}}
{{- $p := include "cassandra.preset" . | fromJsonArray -}}
requests:
  cpu: {{ index $p 0 | quote }}
  memory: {{ printf "%dMi" (int (index $p 1)) }}
limits:
  cpu: {{ index $p 2 | quote }}
  memory: {{ printf "%dMi" (int (index $p 3)) }}
{{- end -}}
{{- end -}}

{{/*
MAX_HEAP_SIZE: jvm.maxHeapSize, else half the preset's memory limit, else
nothing (the image sizes the heap from the host's memory).
*/}}
{{- define "cassandra.maxHeapSize" -}}
{{- $c := .Values.cassandra -}}
{{- if $c.jvm.maxHeapSize -}}
{{- $c.jvm.maxHeapSize -}}
{{- else if ne $c.resourcesPreset "none" -}}
{{- $p := include "cassandra.preset" . | fromJsonArray -}}
{{- printf "%dM" (div (int (index $p 3)) 2) -}}
{{- end -}}
{{- end -}}

{{/*
CASSANDRA_SEEDS: the first cluster.seed pods by their stable DNS names, then
cluster.extraSeeds. Not capped at replicaCount (as published): seed 2 with
one replica names cassandra-1, which never exists.
*/}}
{{- define "cassandra.seeds" -}}
{{- $c := .Values.cassandra -}}
{{- $ns := include "cassandra.namespace" . -}}
{{- $seeds := list -}}
{{- range $i := until (int $c.cluster.seed) -}}
{{- $seeds = append $seeds (printf "cassandra-%d.cassandra-headless.%s.svc.cluster.local" $i $ns) -}}
{{- end -}}
{{- join "," (concat $seeds ($c.cluster.extraSeeds | default list)) -}}
{{- end -}}

{{/* Pod settings shared by the hook jobs. Call with (dict "hook" <hooks.X> "root" $). */}}
{{- define "cassandra.hookPod" -}}
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
