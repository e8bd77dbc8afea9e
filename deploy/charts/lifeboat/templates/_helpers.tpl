{{/*
Names, labels, images and small conversions shared by the umbrella chart and its three subcharts. Named templates
are global in Helm, so the subcharts use these rather than keeping three copies; called from a subchart, "." is
that subchart's context (.Chart.Name is backup-service, restore-service or verify-service).
*/}}

{{/*
Base of every object name: global.fullnameOverride or the release name, cut to 47 characters so that the longest
suffix ("-restore-service", 16) still fits the 63 characters of a DNS label.
*/}}
{{- define "lifeboat.base" -}}
{{- $global := .Values.global | default dict -}}
{{- default .Release.Name $global.fullnameOverride | trunc 47 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of one service's objects: (dict "root" . "service" "verify-service"). */}}
{{- define "lifeboat.serviceFullname" -}}
{{- printf "%s-%s" (include "lifeboat.base" .root) .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the current subchart's objects. */}}
{{- define "lifeboat.fullname" -}}
{{- include "lifeboat.serviceFullname" (dict "root" . "service" .Chart.Name) -}}
{{- end -}}

{{/* The ServiceAccount the current subchart's pods run as. */}}
{{- define "lifeboat.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lifeboat.fullname" .) .Values.serviceAccount.name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one service's pods: (dict "root" . "service" "backup-service"). */}}
{{- define "lifeboat.serviceSelectorLabels" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Selector labels of the current subchart's pods. */}}
{{- define "lifeboat.selectorLabels" -}}
{{- include "lifeboat.serviceSelectorLabels" (dict "root" . "service" .Chart.Name) -}}
{{- end -}}

{{/*
The app.kubernetes.io labels of every object (plus global.commonLabels). Called from the umbrella, the component
is "monitoring"; from a subchart, the service (backup, restore, verify).
*/}}
{{- define "lifeboat.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lifeboat
app.kubernetes.io/component: {{ ternary "monitoring" (trimSuffix "-service" .Chart.Name) (eq .Chart.Name "lifeboat") }}
{{- with (.Values.global | default dict).commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Image reference of the current subchart: [registry/]repository:tag. global.imageRegistry overrides the service's
image.registry; the tag defaults to the chart's appVersion.
*/}}
{{- define "lifeboat.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry -}}
{{- $ref := printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- if $registry -}}
{{- printf "%s/%s" (trimSuffix "/" $registry) $ref -}}
{{- else -}}
{{- $ref -}}
{{- end -}}
{{- end -}}

{{/* A duration such as 25h, 10m, 7d or 90s in seconds (for PromQL, which compares numbers). */}}
{{- define "lifeboat.seconds" -}}
{{- $text := toString . -}}
{{- if not (regexMatch "^[0-9]+[smhd]$" $text) -}}
{{- fail (printf "lifeboat: %q is not a duration: write a number and s, m, h or d (e.g. 25h)" $text) -}}
{{- end -}}
{{- $unit := get (dict "s" 1 "m" 60 "h" 3600 "d" 86400) (regexFind "[smhd]$" $text) -}}
{{- mul (trimSuffix (regexFind "[smhd]$" $text) $text | int) $unit -}}
{{- end -}}

{{/* Port of the S3 endpoint (for NetworkPolicy egress): explicit port, else 80 for http, else 443. */}}
{{- define "lifeboat.s3Port" -}}
{{- $endpoint := .Values.global.store.s3.endpoint -}}
{{- if not $endpoint -}}
443
{{- else -}}
{{- $url := urlParse $endpoint -}}
{{- $hostPort := splitList ":" $url.host -}}
{{- if eq (len $hostPort) 2 -}}
{{- last $hostPort -}}
{{- else -}}
{{- ternary "80" "443" (eq $url.scheme "http") -}}
{{- end -}}
{{- end -}}
{{- end -}}
