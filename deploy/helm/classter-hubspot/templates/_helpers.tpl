{{/* Names, standard labels, and the checks that values.schema.json cannot express. */}}

{{- define "classter-hubspot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name; the release name alone when it already contains the chart's name. */}}
{{- define "classter-hubspot.fullname" -}}
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

{{- define "classter-hubspot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "classter-hubspot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "classter-hubspot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "classter-hubspot.labels" -}}
helm.sh/chart: {{ include "classter-hubspot.chart" . }}
{{ include "classter-hubspot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: consumer
app.kubernetes.io/part-of: classter-hubspot
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "classter-hubspot.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The HTTP port of /metrics, /healthz and /readyz: config.http.port. */}}
{{- define "classter-hubspot.port" -}}
{{- dig "http" "port" 8080 .Values.config | int }}
{{- end }}

{{/* Where mounted secrets live inside the container. */}}
{{- define "classter-hubspot.tokenDir" -}}/var/run/secrets/classter-hubspot/hubspot{{- end }}
{{- define "classter-hubspot.kafkaPasswordDir" -}}/var/run/secrets/classter-hubspot/kafka{{- end }}
{{- define "classter-hubspot.kafkaTlsDir" -}}/var/run/secrets/classter-hubspot/kafka-tls{{- end }}

{{/* The kafka.tls Secret's keys that are set, as config key -> Secret key (empty without one). */}}
{{- define "classter-hubspot.kafkaTlsFiles" -}}
{{- $tls := .Values.kafka.tls }}
{{- $files := dict }}
{{- if $tls.existingSecret }}
{{- range $name, $key := dict "ssl_cafile" $tls.caKey "ssl_certfile" $tls.certKey "ssl_keyfile" $tls.keyKey }}
{{- if $key }}
{{- $_ := set $files $name $key }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/* config.yaml as the daemon reads it: .Values.config with http.port always written. */}}
{{- define "classter-hubspot.configYaml" -}}
{{- $config := deepCopy .Values.config }}
{{- $http := get $config "http" | default dict }}
{{- $_ := set $http "port" (include "classter-hubspot.port" . | int) }}
{{- $_ := set $config "http" $http }}
{{- /* unset budget_share: each replica takes an equal part of the token's budget */}}
{{- $hubspot := get $config "hubspot" | default dict }}
{{- if not (hasKey $hubspot "budget_share") }}
{{- $_ := set $hubspot "budget_share" (divf 1.0 (max 1 (int .Values.replicaCount))) }}
{{- $_ := set $config "hubspot" $hubspot }}
{{- end }}
{{- $tlsFiles := include "classter-hubspot.kafkaTlsFiles" . | fromJson }}
{{- if $tlsFiles }}
{{- $kafka := get $config "kafka" | default dict }}
{{- range $name, $key := $tlsFiles }}
{{- if not (get $kafka $name) }}
{{- $_ := set $kafka $name (printf "%s/%s" (include "classter-hubspot.kafkaTlsDir" $) $key) }}
{{- end }}
{{- end }}
{{- $_ := set $config "kafka" $kafka }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
Cross-field checks (values.schema.json checks single fields); each failure names the values to
change. Included by the Deployment, so `helm template` and `helm install` both stop here.
*/}}
{{- define "classter-hubspot.validate" -}}
{{- $kafka := get .Values.config "kafka" | default dict }}
{{- $drain := 20.0 }}
{{- if hasKey $kafka "drain_timeout_s" }}
{{- $drain = float64 (get $kafka "drain_timeout_s") }}
{{- end }}
{{- $grace := float64 .Values.terminationGracePeriodSeconds }}
{{- if lt $grace (addf $drain 5) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be at least config.kafka.drain_timeout_s (%v) + 5: the pod would be killed before it drains and commits" .Values.terminationGracePeriodSeconds $drain) }}
{{- end }}
{{- if and .Values.staticMembership (get $kafka "group_instance_id") }}
{{- fail "config.kafka.group_instance_id must be unset: staticMembership gives every pod its own id (a shared id fences replicas out of the group)" }}
{{- end }}
{{- $protocol := get $kafka "security_protocol" | default "PLAINTEXT" | toString }}
{{- if and (hasPrefix "SASL" $protocol) (not .Values.kafka.saslPassword.existingSecret) }}
{{- fail (printf "config.kafka.security_protocol is %s: set kafka.saslPassword.existingSecret to the Secret holding the SASL password" $protocol) }}
{{- end }}
{{- $tls := .Values.kafka.tls }}
{{- if $tls.existingSecret }}
{{- if not (has $protocol (list "SSL" "SASL_SSL")) }}
{{- fail (printf "kafka.tls.existingSecret is set but config.kafka.security_protocol is %s: TLS files are used only with SSL or SASL_SSL" $protocol) }}
{{- end }}
{{- if not (or $tls.caKey $tls.certKey) }}
{{- fail "kafka.tls.existingSecret is set but none of kafka.tls.caKey, kafka.tls.certKey is: name the Secret's keys to mount" }}
{{- end }}
{{- if and $tls.keyKey (not $tls.certKey) }}
{{- fail "kafka.tls.keyKey needs kafka.tls.certKey (the client certificate the key belongs to)" }}
{{- end }}
{{- end }}
{{- end }}
