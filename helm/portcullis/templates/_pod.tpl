{{/*
The server's pod template, shared by the Deployment (PostgreSQL) and the
StatefulSet (SQLite).
*/}}
{{- define "portcullis.podTemplate" -}}
{{- $sqlite := include "portcullis.sqlite" . -}}
metadata:
  labels:
    {{- include "portcullis.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "portcullis.serviceAccountName" . }}
  # The server never calls the Kubernetes API.
  automountServiceAccountToken: false
  # No PORTCULLIS_SERVICE_HOST & co. from a Service named "portcullis".
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: portcullis
      image: {{ include "portcullis.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ .Values.containerPorts.http }}
          protocol: TCP
        - name: metrics
          containerPort: {{ .Values.containerPorts.metrics }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ include "portcullis.fullname" . }}
      env:
        - name: DATABASE_URL
          {{- if $sqlite }}
          value: {{ include "portcullis.sqliteUrl" . | quote }}
          {{- else }}
          {{- $db := splitList " " (include "portcullis.databaseSecretRef" .) }}
          valueFrom:
            secretKeyRef:
              name: {{ index $db 0 }}
              key: {{ index $db 1 }}
          {{- end }}
        - name: {{ include "portcullis.signingKeyVar" . }}
          valueFrom:
            secretKeyRef:
              name: {{ include "portcullis.keysSecretName" . }}
              key: {{ include "portcullis.signingKeyVar" . }}
        {{- if ne .Values.config.jwtAlgorithm "EdDSA" }}
        # Older HS256 secrets that still verify, while a rotation runs.
        - name: PORTCULLIS_JWT_ACCEPTED_SECRETS
          valueFrom:
            secretKeyRef:
              name: {{ include "portcullis.keysSecretName" . }}
              key: PORTCULLIS_JWT_ACCEPTED_SECRETS
              optional: true
        {{- end }}
        {{- with .Values.extraEnvVars }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      startupProbe:
        httpGet:
          path: /ready
          port: http
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /ready
          port: http
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
        successThreshold: {{ .Values.probes.readiness.successThreshold }}
      livenessProbe:
        httpGet:
          path: /health
          port: http
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      lifecycle:
        # Endpoints drop the pod while it sleeps, before SIGTERM arrives.
        preStop:
          sleep:
            seconds: {{ .Values.preStopSleepSeconds }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $sqlite }}
        - name: data
          mountPath: {{ .Values.database.sqlite.mountPath }}
        {{- end }}
        {{- if .Values.config.accessRules }}
        - name: access-rules
          mountPath: /etc/portcullis
          readOnly: true
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
    {{- if .Values.config.accessRules }}
    - name: access-rules
      configMap:
        name: {{ include "portcullis.suffixed" (list . "access-rules") }}
    {{- end }}
  {{- if .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml .Values.topologySpreadConstraints | nindent 4 }}
  {{- else if .Values.topologySpread.enabled }}
  topologySpreadConstraints:
    {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
    - topologyKey: {{ . }}
      maxSkew: 1
      whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "portcullis.selectorLabels" $ | nindent 10 }}
      {{- if not $sqlite }}
      # Count only this revision's pods during a rolling update.
      matchLabelKeys:
        - pod-template-hash
      {{- end }}
    {{- end }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
