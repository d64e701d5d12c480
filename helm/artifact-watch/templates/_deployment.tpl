{{/* One long-running component. Call with
     (dict "root" $ "component" "ingest" "v" .Values.ingest "args" (list ...) "replicas" N) */}}
{{- define "aw.deployment" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "aw.component" . }}
  labels:
    {{- include "aw.componentLabels" . | nindent 4 }}
spec:
  {{- if not .keda }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  {{- if .recreate }}
  strategy:
    type: Recreate
  {{- end }}
  selector:
    matchLabels:
      {{- include "aw.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "aw.selectorLabels" . | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "aw.configChecksum" $root | nindent 8 }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "aw.podCommon" $root | nindent 6 }}
      terminationGracePeriodSeconds: {{ default 30 .v.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .component }}
          image: {{ include "aw.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml (concat .args (default (list) .v.extraArgs)) | nindent 12 }}
          env:
            {{- include "aw.env" $root | nindent 12 }}
          {{- include "aw.probes" $root | nindent 10 }}
          resources:
            {{- toYaml .v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "aw.volumeMounts" $root | nindent 12 }}
{{- end -}}
