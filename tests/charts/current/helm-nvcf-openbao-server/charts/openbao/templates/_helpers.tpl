{{- define "openbao.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "openbao.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "openbao.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "openbao.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "openbao.namespace" -}}
{{- .Values.global.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "openbao.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" -}}
{{- end -}}

{{/* Tri-state switches: "-" follows global.enabled. */}}
{{- define "openbao.serverEnabled" -}}
{{- $e := toString .Values.server.enabled -}}
{{- if or (eq $e "true") (and (eq $e "-") .Values.global.enabled) -}}true{{- end -}}
{{- end -}}

{{- define "openbao.injectorEnabled" -}}
{{- $e := toString .Values.injector.enabled -}}
{{- if or (eq $e "true") (and (eq $e "-") .Values.global.enabled) -}}true{{- end -}}
{{- end -}}

{{/* dev, ha or standalone, in upstream's order of precedence. */}}
{{- define "openbao.mode" -}}
{{- if .Values.server.dev.enabled -}}dev
{{- else if .Values.server.ha.enabled -}}ha
{{- else -}}standalone
{{- end -}}
{{- end -}}

{{/*
registry/repository:tag; an empty tag means the chart's appVersion without
its "v". Call with (dict "image" <image map> "root" $).
*/}}
{{- define "openbao.image" -}}
{{- printf "%s/%s:%s" (toString .image.registry) (toString .image.repository) (.image.tag | default (trimPrefix "v" .root.Chart.AppVersion) | toString) -}}
{{- end -}}

{{/*
Scheduling fields that upstream accepts either as a map or as a string to
template (affinity defaults to a templated string). "" / null / {} render
nothing. Call with (dict "value" <value> "root" $).
*/}}
{{- define "openbao.tplOrYaml" -}}
{{- if kindIs "string" .value -}}
{{- tpl .value .root | trim -}}
{{- else if .value -}}
{{- toYaml .value -}}
{{- end -}}
{{- end -}}

{{- define "openbao.serverLabels" -}}
app.kubernetes.io/name: {{ include "openbao.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
component: server
{{- end -}}

{{- define "openbao.injectorLabels" -}}
app.kubernetes.io/name: {{ include "openbao.name" . }}-agent-injector
app.kubernetes.io/instance: {{ .Release.Name }}
component: webhook
{{- end -}}

{{/* PDB maxUnavailable when unset: (replicas/2)-1, upstream's integer arithmetic. */}}
{{- define "openbao.pdb.maxUnavailable" -}}
{{- if .Values.server.ha.disruptionBudget.maxUnavailable -}}
{{- .Values.server.ha.disruptionBudget.maxUnavailable -}}
{{- else -}}
{{- div (sub (div (mul (int .Values.server.ha.replicas) 10) 2) 1) 10 -}}
{{- end -}}
{{- end -}}
