{{/* Names */}}
{{- define "aw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aw.fullname" -}}
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

{{/* A component's name: <fullname>-<component>, at most 52 characters so a
     CronJob's Job names still fit. */}}
{{- define "aw.component" -}}
{{- printf "%s-%s" (include "aw.fullname" .root | trunc 40 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "aw.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "aw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "ingest") */}}
{{- define "aw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aw.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "aw.componentLabels" -}}
{{ include "aw.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "aw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aw.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "aw.secretName" -}}
{{- printf "%s-credentials" (include "aw.fullname" .) -}}
{{- end -}}

{{- define "aw.pgSecretName" -}}
{{- default (include "aw.secretName" .) .Values.postgresql.existingSecret -}}
{{- end -}}

{{- define "aw.s3SecretName" -}}
{{- default (include "aw.secretName" .) .Values.s3.existingSecret -}}
{{- end -}}

{{- define "aw.kafkaSecretName" -}}
{{- default (include "aw.secretName" .) .Values.kafka.sasl.existingSecret -}}
{{- end -}}

{{- define "aw.hasS3Keys" -}}
{{- if or .Values.s3.existingSecret .Values.s3.accessKeyId -}}true{{- end -}}
{{- end -}}

{{/* The environment every container gets: the config file, and secrets by reference. */}}
{{- define "aw.env" -}}
- name: AW_CONFIG
  value: /etc/artifact-watch/artifact-watch.conf
- name: AW_KAFKA_PROPERTIES
  value: /etc/artifact-watch-kafka/kafka.properties
- name: AW_PG_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "aw.pgSecretName" . }}
      key: {{ if .Values.postgresql.existingSecret }}{{ .Values.postgresql.existingSecretKey }}{{ else }}pg-uri{{ end }}
{{- if include "aw.hasS3Keys" . }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "aw.s3SecretName" . }}
      key: access-key-id
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "aw.s3SecretName" . }}
      key: secret-access-key
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "aw.s3SecretName" . }}
      key: session-token
      optional: true
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "aw.volumeMounts" -}}
- name: config
  mountPath: /etc/artifact-watch
  readOnly: true
- name: kafka
  mountPath: /etc/artifact-watch-kafka
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "aw.volumes" -}}
- name: config
  configMap:
    name: {{ include "aw.fullname" . }}
- name: kafka
  secret:
    secretName: {{ include "aw.kafkaSecretName" . }}
    items:
      - key: kafka.properties
        path: kafka.properties
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every workload. */}}
{{- define "aw.podCommon" -}}
serviceAccountName: {{ include "aw.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "aw.volumes" . | nindent 2 }}
{{- end -}}

{{/* A checksum of what the pods read, so a changed setting rolls them. */}}
{{- define "aw.configChecksum" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* Probes on the metrics port: liveness never depends on Kafka, PostgreSQL or
     S3 (/healthz: the loop turns); readiness does (/readyz). */}}
{{- define "aw.probes" -}}
ports:
  - name: metrics
    containerPort: {{ .Values.metrics.port }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /healthz
    port: metrics
  initialDelaySeconds: 10
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}
