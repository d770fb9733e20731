{{/* Names and labels. */}}
{{- define "prod-entry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "prod-entry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "prod-entry.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "prod-entry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "web"). */}}
{{- define "prod-entry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "prod-entry.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "prod-entry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "prod-entry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "prod-entry.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
{{- end }}

{{/* The plain environment: values.env plus the process definitions (PROD_ENTRY_PROCESS_*). One map, so the
ConfigMap and the migrate hook Job (which runs before the ConfigMap exists) cannot disagree. */}}
{{- define "prod-entry.plainEnv" -}}
{{- $env := dict }}
{{- range $key, $value := .Values.env }}
{{- $_ := set $env $key (toString $value) }}
{{- end }}
{{- range $name, $process := .Values.processes }}
{{- $var := printf "PROD_ENTRY_PROCESS_%s" (upper $name) }}
{{- $_ := set $env $var $process.backend }}
{{- if $process.args }}
{{- $_ := set $env (printf "%s_ARGS" $var) (ternary $process.args (toJson $process.args) (kindIs "string" $process.args)) }}
{{- end }}
{{- if $process.app }}
{{- $_ := set $env (printf "%s_APP" $var) $process.app }}
{{- end }}
{{- end }}
{{- /* prod-entry reads X from X_FILE for names with PASSWORD or SECRET and for *_URL, *_DSN; name the rest explicitly. */}}
{{- $fileNames := list }}
{{- range .Values.secretFiles }}
{{- $fileNames = append $fileNames .name }}
{{- end }}
{{- with $env.PROD_ENTRY_SECRET_FILES }}
{{- $fileNames = append $fileNames . }}
{{- end }}
{{- if $fileNames }}
{{- $_ := set $env "PROD_ENTRY_SECRET_FILES" (join "," ($fileNames | uniq)) }}
{{- end }}
{{- if .Values.web.enabled }}
{{- $_ := set $env "PROD_ENTRY_HEALTHCHECK_URL" .Values.web.healthPath }}
{{- $_ := set $env "PORT" (toString .Values.web.port) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* Environment entries every container gets besides the ConfigMap: secrets as variables and as files. */}}
{{- define "prod-entry.secretEnv" -}}
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- range .Values.secretFiles }}
- name: {{ printf "%s_FILE" .name }}
  value: {{ printf "/run/secrets/%s/%s" .secretName .key | quote }}
{{- end }}
{{- end }}

{{/* The Secrets secretFiles mounts, each once (a JSON list). */}}
{{- define "prod-entry.secretNames" -}}
{{- $names := list }}
{{- range .Values.secretFiles }}
{{- $names = append $names .secretName }}
{{- end }}
{{- $names | uniq | toJson }}
{{- end }}

{{- define "prod-entry.volumeMounts" -}}
{{- range $i, $dir := .Values.writableDirs }}
- name: {{ printf "writable-%d" $i }}
  mountPath: {{ $dir }}
{{- end }}
{{- range (include "prod-entry.secretNames" . | fromJsonArray) }}
- name: {{ printf "secret-%s" . | trunc 63 | trimSuffix "-" }}
  mountPath: {{ printf "/run/secrets/%s" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "prod-entry.volumes" -}}
{{- range $i, $dir := .Values.writableDirs }}
- name: {{ printf "writable-%d" $i }}
  emptyDir: {}
{{- end }}
{{- range (include "prod-entry.secretNames" . | fromJsonArray) }}
- name: {{ printf "secret-%s" . | trunc 63 | trimSuffix "-" }}
  secret:
    secretName: {{ . }}
{{- end }}
{{- end }}

{{/* A pod's grace period: at least the shutdown delay plus the stop timeout, or the render fails. */}}
{{- define "prod-entry.gracePeriod" -}}
{{- $least := add .shutdownDelaySeconds .stopTimeoutSeconds }}
{{- if kindIs "invalid" .terminationGracePeriodSeconds }}
{{- add $least 5 }}
{{- else if lt (int .terminationGracePeriodSeconds) (int $least) }}
{{- fail (printf "terminationGracePeriodSeconds=%v is shorter than shutdownDelaySeconds + stopTimeoutSeconds (%v): Kubernetes would KILL the pod before prod-entry stops it; raise it or lower those" .terminationGracePeriodSeconds $least) }}
{{- else }}
{{- .terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* healthPort.enabled: the variable that turns the supervisor's health port on, and its container port. */}}
{{- define "prod-entry.healthPortEnv" -}}
{{- if .Values.healthPort.enabled }}
- name: PROD_ENTRY_HEALTH_PORT
  value: {{ .Values.healthPort.port | quote }}
{{- end }}
{{- end }}

{{- define "prod-entry.healthPortPort" -}}
{{- if .Values.healthPort.enabled }}
- name: health
  containerPort: {{ .Values.healthPort.port }}
  protocol: TCP
{{- end }}
{{- end }}
