{{/*
Names and labels.
*/}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name derived from the full name: "<fullname>-<suffix>", at most 63 characters. */}}
{{- define "portcullis.suffixed" -}}
{{- $root := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "portcullis.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- end -}}

{{/* The server's pods. */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Database and replicas.
*/}}
{{- define "portcullis.sqlite" -}}
{{- if eq .Values.database.type "sqlite" -}}true{{- end -}}
{{- end -}}

{{/* Replicas the workload runs: replicaCount, or 3 on PostgreSQL and 1 on SQLite. */}}
{{- define "portcullis.replicas" -}}
{{- if kindIs "invalid" .Values.replicaCount -}}
{{- if include "portcullis.sqlite" . -}}1{{- else -}}3{{- end -}}
{{- else -}}
{{- .Values.replicaCount | int -}}
{{- end -}}
{{- end -}}

{{/* The fewest replicas that can be running: the HPA's minimum when it is on. */}}
{{- define "portcullis.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.minReplicas | int -}}
{{- else -}}
{{- include "portcullis.replicas" . -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.sqliteUrl" -}}
{{- printf "sqlite://%s/%s" .Values.database.sqlite.mountPath .Values.database.sqlite.file -}}
{{- end -}}

{{/*
Secrets. The signing keys live in secrets.existingSecret, or else in a
Secret the chart creates once (templates/secret.yaml) and never replaces.
*/}}
{{- define "portcullis.keysSecretName" -}}
{{- .Values.secrets.existingSecret | default (include "portcullis.fullname" .) -}}
{{- end -}}

{{/* The environment variable that holds the current signing key. */}}
{{- define "portcullis.signingKeyVar" -}}
{{- if eq .Values.config.jwtAlgorithm "EdDSA" -}}PORTCULLIS_JWT_SIGNING_KEY{{- else -}}PORTCULLIS_JWT_SECRET{{- end -}}
{{- end -}}

{{/* "name key" of the Secret that holds DATABASE_URL (PostgreSQL only). */}}
{{- define "portcullis.databaseSecretRef" -}}
{{- if .Values.database.existingSecret -}}
{{- printf "%s %s" .Values.database.existingSecret .Values.database.existingSecretKey -}}
{{- else if .Values.database.url -}}
{{- printf "%s DATABASE_URL" (include "portcullis.fullname" .) -}}
{{- else -}}
{{- printf "%s DATABASE_URL" .Values.secrets.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
The public URL: config.publicUrl, or https:// and the first Ingress host.
*/}}
{{- define "portcullis.publicUrl" -}}
{{- if .Values.config.publicUrl -}}
{{- .Values.config.publicUrl | trimSuffix "/" -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- printf "https://%s" (first .Values.ingress.hosts) -}}
{{- end -}}
{{- end -}}

{{/* The service's in-cluster address, as other pods and the ingress controller reach it. */}}
{{- define "portcullis.serviceUrl" -}}
{{- printf "http://%s.%s.svc.%s:%d" (include "portcullis.fullname" .) .Release.Namespace .Values.cluster.domain (.Values.service.port | int) -}}
{{- end -}}

{{/*
Names that hold secrets: never in a ConfigMap. Used to refuse them in
config.extraEnv, and by tests/ops/chart_check.py on the rendered ConfigMaps.
*/}}
{{- define "portcullis.secretNamePattern" -}}
(^DATABASE_URL$|SECRET|PASSWORD|PASSWD|SIGNING_KEY|PRIVATE_KEY|CLIENT_KEY|CREDENTIAL|API_KEY)
{{- end -}}

{{/*
Every refusal, with the value to change. Included by the workload, so any
render of the chart runs it.
*/}}
{{- define "portcullis.validate" -}}
{{- $sqlite := include "portcullis.sqlite" . -}}
{{- $replicas := include "portcullis.replicas" . | int -}}
{{- if $sqlite -}}
  {{- if gt $replicas 1 -}}
    {{- fail (printf "database.type=sqlite runs one replica (a StatefulSet with one volume; SQLite cannot be shared between pods), but replicaCount=%d: set replicaCount=1, or use PostgreSQL (database.type=postgres) for more" $replicas) -}}
  {{- end -}}
  {{- if .Values.autoscaling.enabled -}}
    {{- fail "database.type=sqlite runs one replica and cannot autoscale: set autoscaling.enabled=false, or use PostgreSQL (database.type=postgres)" -}}
  {{- end -}}
  {{- if or .Values.database.url .Values.database.existingSecret -}}
    {{- fail "database.url and database.existingSecret are for PostgreSQL; database.type=sqlite keeps its file on the chart's volume (database.sqlite)" -}}
  {{- end -}}
{{- else -}}
  {{- if not (or .Values.database.existingSecret .Values.database.url .Values.secrets.existingSecret) -}}
    {{- fail "PostgreSQL needs its URL, kept in a Secret: set database.existingSecret (a Secret holding it, key database.existingSecretKey), or secrets.existingSecret with a DATABASE_URL key, or database.url (the chart stores it in its Secret); or choose database.type=sqlite for a single replica" -}}
  {{- end -}}
  {{- if and .Values.database.url .Values.secrets.existingSecret (not .Values.database.existingSecret) -}}
    {{- fail "database.url goes into the chart's own Secret, which is not created when secrets.existingSecret is set: put DATABASE_URL in that Secret (or use database.existingSecret) and leave database.url empty" -}}
  {{- end -}}
{{- end -}}
{{- $url := include "portcullis.publicUrl" . -}}
{{- if not $url -}}
  {{- fail "config.publicUrl is required (the https:// origin browsers use, e.g. https://auth.example.com), unless ingress.enabled with ingress.hosts, whose first host is used" -}}
{{- end -}}
{{- if not (hasPrefix "https://" $url) -}}
  {{- fail (printf "config.publicUrl must be https:// (the server runs with PORTCULLIS_ENV=production, which refuses anything else), got %s" $url) -}}
{{- end -}}
{{- range $name, $_ := .Values.config.extraEnv -}}
  {{- if regexMatch (include "portcullis.secretNamePattern" $) (upper $name) -}}
    {{- fail (printf "config.extraEnv.%s looks like a secret, and config.extraEnv goes into a ConfigMap: put it in secrets.existingSecret and reference it with extraEnvVars (secretKeyRef)" $name) -}}
  {{- end -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (.Values.autoscaling.minReplicas | int) (.Values.autoscaling.maxReplicas | int)) -}}
  {{- fail "autoscaling.minReplicas is greater than autoscaling.maxReplicas" -}}
{{- end -}}
{{- if .Values.checkLogin.enabled -}}
  {{- if not .Values.checkLogin.email -}}
    {{- fail "checkLogin.enabled needs checkLogin.email: the dedicated probe account's email" -}}
  {{- end -}}
  {{- if not .Values.checkLogin.passwordSecret.name -}}
    {{- fail "checkLogin.enabled needs checkLogin.passwordSecret.name: a Secret holding the probe account's password (mounted as a file)" -}}
  {{- end -}}
{{- end -}}
{{- /* At install or upgrade against a cluster, check the Secrets named exist and hold their keys (an offline render cannot see them). */ -}}
{{- if .Values.secrets.existingSecret -}}
  {{- $s := lookup "v1" "Secret" .Release.Namespace .Values.secrets.existingSecret -}}
  {{- if $s -}}
    {{- $keys := list (include "portcullis.signingKeyVar" .) -}}
    {{- if and (not $sqlite) (not .Values.database.existingSecret) -}}{{- $keys = append $keys "DATABASE_URL" -}}{{- end -}}
    {{- range $keys -}}
      {{- if not (hasKey ($s.data | default dict) .) -}}
        {{- fail (printf "Secret %s (secrets.existingSecret) has no %s key" $.Values.secrets.existingSecret .) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- end -}}
