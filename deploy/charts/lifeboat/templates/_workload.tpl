{{/*
The objects every service has, rendered by each subchart with its own context: ConfigMap, Deployment, Service,
ServiceAccount, PodDisruptionBudget and NetworkPolicy. The three services differ only in their settings, their
Secrets and (restore-service) their Kubernetes API access, all derived in _settings.tpl.
*/}}

{{- define "lifeboat.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "lifeboat.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
data:
  application.properties: |
    {{- include "lifeboat.applicationProperties" . | nindent 4 }}
{{- end -}}

{{- define "lifeboat.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "lifeboat.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
  {{- with merge (deepCopy .Values.serviceAccount.annotations) .Values.global.serviceAccountAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}
{{- end -}}

{{- define "lifeboat.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "lifeboat.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "lifeboat.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: 8080
      targetPort: http
      protocol: TCP
    - name: management
      port: 9000
      targetPort: management
      protocol: TCP
{{- end -}}

{{/*
Every service uses the Kubernetes API: its replicas coordinate through Leases (one backup per database, one restore
per target, one leader for the janitors and sweeps); restore-service also scales the targets' workloads.
*/}}
{{- define "lifeboat.needsApi" -}}
true
{{- end -}}

{{/*
The Leases a service's replicas coordinate through, in the release namespace (common.coord): get (read one), create
(the first time a key is locked, and the leader Lease), update (renew, take over an expired one, release by clearing
the holder). Nothing is listed, watched or deleted. Named `<service>-leases`, apart from restore-service's workload
Role, which may live in the same namespace.
*/}}
{{- define "lifeboat.leaseRbac" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "lifeboat.fullname" . | trunc 56 | trimSuffix "-" }}-leases
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
rules:
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["get", "create", "update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "lifeboat.fullname" . | trunc 56 | trimSuffix "-" }}-leases
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "lifeboat.fullname" . | trunc 56 | trimSuffix "-" }}-leases
subjects:
  - kind: ServiceAccount
    name: {{ include "lifeboat.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end -}}

{{- define "lifeboat.deployment" -}}
{{- $secretFiles := include "lifeboat.secretFiles" . | fromYamlArray -}}
{{- $bySecret := dict -}}
{{- range $secretFiles -}}
{{- $_ := set $bySecret .secret (append (get $bySecret .secret | default list) (dict "key" .key "path" .path)) -}}
{{- end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "lifeboat.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  # replicas coordinate through Leases (one job per database or target, one leader for the singleton tasks), so a
  # new pod may start beside the old one; the old one stops taking work on SIGTERM and ends its jobs cleanly
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "lifeboat.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "lifeboat.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "lifeboat.applicationProperties" . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "lifeboat.serviceAccountName" . }}
      automountServiceAccountToken: {{ include "lifeboat.needsApi" . | eq "true" }}
      {{- with .Values.global.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      # uid 1001 as in the images; the primary group stays the image's (its files are group-owned by it), and
      # fsGroup 1001 makes the mounted Secret files (0440) readable
      securityContext:
        runAsNonRoot: true
        runAsUser: 1001
        fsGroup: 1001
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "lifeboat.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          # config/application.properties is read from the working directory (the ConfigMap is mounted there)
          workingDir: /deployments
          securityContext:
            runAsNonRoot: true
            runAsUser: 1001
            allowPrivilegeEscalation: false
            privileged: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
            seccompProfile:
              type: RuntimeDefault
          env:
            # the Lease holder identity and the holder shown on jobs: the pod's name
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            {{- with .Values.javaOpts }}
            - name: JAVA_OPTS
              value: {{ . | quote }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            - name: management
              containerPort: 9000
              protocol: TCP
          # all probes on the management port, answered by the event loop: a long backup or restore runs on
          # worker threads and never delays them; liveness checks the process only (no database, store or peer)
          startupProbe:
            httpGet:
              path: /q/health/started
              port: management
            {{- toYaml .Values.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /q/health/live
              port: management
            {{- toYaml .Values.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /q/health/ready
              port: management
            {{- toYaml .Values.probes.readiness | nindent 12 }}
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: config
              mountPath: /deployments/config
              readOnly: true
            - name: tmp
              mountPath: /tmp
            {{- if eq .Chart.Name "restore-service" }}
            - name: pitr-spool
              mountPath: /var/lib/lifeboat/pitr
            {{- end }}
            {{- if eq .Chart.Name "backup-service" }}
            # the WAL receivers' spool (lifeboat.pitr.spool-dir): scratch, its loss loses no WAL
            - name: wal-spool
              mountPath: /var/lib/lifeboat/wal-spool
            {{- end }}
            {{- if $secretFiles }}
            - name: secrets
              mountPath: {{ include "lifeboat.secretsDir" . }}
              readOnly: true
            {{- end }}
            {{- if eq .Values.global.store.type "filesystem" }}
            - name: store
              mountPath: {{ .Values.global.store.filesystem.path }}
            {{- end }}
            {{- with .Values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "lifeboat.fullname" . }}
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpSizeLimit }}
        {{- if eq .Chart.Name "restore-service" }}
        - name: pitr-spool
          emptyDir:
            sizeLimit: {{ .Values.pitrSpoolSizeLimit }}
        {{- end }}
        {{- if eq .Chart.Name "backup-service" }}
        - name: wal-spool
          emptyDir:
            sizeLimit: {{ .Values.walSpoolSizeLimit }}
        {{- end }}
        {{- if $secretFiles }}
        - name: secrets
          projected:
            # readable by the pod's group (fsGroup) only
            defaultMode: 0440
            sources:
              {{- range $secret := keys $bySecret | sortAlpha }}
              - secret:
                  name: {{ $secret }}
                  items:
                    {{- range get $bySecret $secret }}
                    - key: {{ .key | quote }}
                      path: {{ .path }}
                    {{- end }}
              {{- end }}
        {{- end }}
        {{- if eq .Values.global.store.type "filesystem" }}
        - name: store
          persistentVolumeClaim:
            claimName: {{ .Values.global.store.filesystem.existingClaim }}
        {{- end }}
        {{- with .Values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if .Values.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ .Values.topologySpread.maxSkew }}
          topologyKey: {{ .Values.topologySpread.topologyKey }}
          whenUnsatisfiable: {{ .Values.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "lifeboat.selectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{- define "lifeboat.podDisruptionBudget" -}}
{{- if .Values.podDisruptionBudget.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "lifeboat.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "lifeboat.selectorLabels" . | nindent 6 }}
  {{- if ne (toString .Values.podDisruptionBudget.minAvailable) "" }}
  minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/*
Ingress: the API port from the one peer service that calls this one and from global.networkPolicy.apiClients; the
management port from Prometheus. Egress: DNS, PostgreSQL (the ports of what this service connects to), S3, the
peer this service calls and, for restore-service with workloads, the Kubernetes API. An ingress rule without
"from" would admit everyone, so rules without peers are left out.
*/}}
{{- define "lifeboat.networkPolicy" -}}
{{- $np := .Values.global.networkPolicy -}}
{{- if $np.enabled -}}
{{- $g := .Values.global -}}
{{- $service := .Chart.Name -}}
{{- $pgPorts := list -}}
{{- if eq $service "backup-service" -}}
{{- range $g.databases }}{{ $pgPorts = append $pgPorts (default 5432 .port | int) }}{{ end -}}
{{- else if eq $service "restore-service" -}}
{{- range $g.targets }}{{ $pgPorts = append $pgPorts (default 5432 .port | int) }}{{ end -}}
{{- else -}}
{{- with get $g.targets $g.verify.target }}{{ $pgPorts = append $pgPorts (default 5432 .port | int) }}{{ end -}}
{{- end -}}
{{- $pgPorts = $pgPorts | uniq | sortAlpha -}}
{{- $s3Ports := $np.s3.ports | default (list (include "lifeboat.s3Port" . | int)) -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "lifeboat.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lifeboat.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "lifeboat.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              {{- include "lifeboat.serviceSelectorLabels" (dict "root" . "service" (include "lifeboat.callerOf" $service)) | nindent 14 }}
        {{- with $np.apiClients }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - port: http
          protocol: TCP
    - from:
        - {{ toYaml $np.prometheus | nindent 10 | trim }}
      ports:
        - port: management
          protocol: TCP
  egress:
    - to:
        {{- toYaml $np.dns.to | nindent 8 }}
      ports:
        {{- range $np.dns.ports }}
        - port: {{ . }}
          protocol: UDP
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- if $pgPorts }}
    - ports:
        {{- range $pgPorts }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
      {{- with $np.postgresql.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- if eq $g.store.type "s3" }}
    - ports:
        {{- range $s3Ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
      {{- with $np.s3.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "lifeboat.serviceSelectorLabels" (dict "root" . "service" (include "lifeboat.peerOf" $service)) | nindent 14 }}
      ports:
        - port: 8080
          protocol: TCP
    {{- if include "lifeboat.needsApi" . }}
    - ports:
        {{- range $np.apiServer.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
      {{- with $np.apiServer.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
{{- end -}}
{{- end -}}
