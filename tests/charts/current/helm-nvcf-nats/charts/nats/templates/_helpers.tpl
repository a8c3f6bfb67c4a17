{{- define "nats.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nats.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "nats.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "nats.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nats.namespace" -}}
{{- .Values.namespaceOverride | default .Release.Namespace -}}
{{- end -}}

{{- define "nats.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nats.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: nats
{{- end -}}

{{- define "nats.labels" -}}
{{ include "nats.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- with .Values.global.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "nats.boxSelectorLabels" -}}
app.kubernetes.io/name: {{ include "nats.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: nats-box
{{- end -}}

{{/*
image (and imagePullPolicy) of a container: fullImageName, else
[registry/]repository:tag[@digest], the registry falling back to
global.image.registry. Call with (dict "image" <image map> "global" .Values.global).
*/}}
{{- define "nats.image" -}}
{{- $i := .image -}}
{{- $ref := $i.fullImageName -}}
{{- if not $ref -}}
{{- $ref = printf "%s:%s" (toString $i.repository) (toString $i.tag) -}}
{{- with $i.registry | default .global.image.registry -}}
{{- $ref = printf "%s/%s" . $ref -}}
{{- end -}}
{{- with $i.digest -}}
{{- $ref = printf "%s@%s" $ref . -}}
{{- end -}}
{{- end -}}
image: {{ $ref | quote }}
{{- with $i.pullPolicy | default .global.image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end }}
{{- end -}}

{{/*
Replaces every {$tplYaml: "<template>"} map in .doc by the template's output
(rendered with .ctx). Returns {"v": <result>} as JSON so it can recurse.
*/}}
{{- define "nats.tplYaml" -}}
{{- $v := .doc -}}
{{- if and (kindIs "map" .doc) (hasKey .doc "$tplYaml") -}}
{{- $v = tpl (get .doc "$tplYaml") .ctx -}}
{{- else if kindIs "map" .doc -}}
{{- $v = dict -}}
{{- range $k, $x := .doc -}}
{{- $_ := set $v $k (get (include "nats.tplYaml" (dict "doc" $x "ctx" $.ctx) | fromJson) "v") -}}
{{- end -}}
{{- else if kindIs "slice" .doc -}}
{{- $v = list -}}
{{- range .doc -}}
{{- $v = append $v (get (include "nats.tplYaml" (dict "doc" . "ctx" $.ctx) | fromJson) "v") -}}
{{- end -}}
{{- end -}}
{{- dict "v" $v | toJson -}}
{{- end -}}

{{/* A container env list from a name -> value-or-source map. Call with (dict "env" <map> "ctx" $). */}}
{{- define "nats.env" -}}
{{- $env := get (include "nats.tplYaml" (dict "doc" .env "ctx" .ctx) | fromJson) "v" -}}
{{- range $k, $v := $env }}
- name: {{ $k | quote }}
  {{- if kindIs "map" $v }}
  {{- toYaml $v | nindent 2 }}
  {{- else }}
  value: {{ toString $v | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
Renders template .template with .ctx, deep-merges .merge onto it and applies
the JSON patch list .patch (add/replace/remove on object paths), then prints
the result as YAML.
*/}}
{{- define "nats.loadMergePatch" -}}
{{- $doc := include .template .ctx | fromYaml -}}
{{- with .merge -}}
{{- $doc = mergeOverwrite $doc (deepCopy .) -}}
{{- end -}}
{{- range $p := .patch -}}
{{- $segs := splitList "/" (trimPrefix "/" $p.path) -}}
{{- $node := $doc -}}
{{- range initial $segs -}}
{{- if not (kindIs "map" $node) -}}
{{- fail (printf "nats stand-in: patch path %s: only object paths are supported" $p.path) -}}
{{- end -}}
{{- if not (hasKey $node .) -}}
{{- $_ := set $node . dict -}}
{{- end -}}
{{- $node = get $node . -}}
{{- end -}}
{{- if eq $p.op "remove" -}}
{{- $_ := unset $node (last $segs) -}}
{{- else if has $p.op (list "add" "replace") -}}
{{- $_ := set $node (last $segs) $p.value -}}
{{- else -}}
{{- fail (printf "nats stand-in: patch op %s is not supported" $p.op) -}}
{{- end -}}
{{- end -}}
{{- toYaml $doc -}}
{{- end -}}
