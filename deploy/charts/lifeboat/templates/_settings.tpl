{{/*
What each service reads: the lifeboat.* settings rendered into its ConfigMap (config/application.properties in
the container's working directory) and the Secret keys mounted as files for its *-file settings. Both are derived
here from the same values, so a path in the ConfigMap always has its file. Called with a subchart's context.
*/}}

{{/* Where the Secret keys are mounted (one projected volume). */}}
{{- define "lifeboat.secretsDir" -}}/etc/lifeboat/secrets{{- end -}}

{{/* Who calls whom (DESIGN §1), and with which role the callee accepts the caller's token. */}}
{{- define "lifeboat.peerOf" -}}
{{- get (dict "backup-service" "verify-service" "restore-service" "backup-service" "verify-service" "restore-service") . -}}
{{- end -}}
{{- define "lifeboat.callerOf" -}}
{{- get (dict "backup-service" "restore-service" "restore-service" "verify-service" "verify-service" "backup-service") . -}}
{{- end -}}
{{- define "lifeboat.callerRole" -}}
{{- get (dict "backup-service" "restorer" "restore-service" "operator" "verify-service" "operator") . -}}
{{- end -}}
{{/* Key of a service's own token in global.auth.existingSecret. */}}
{{- define "lifeboat.serviceTokenKey" -}}
{{- $field := get (dict "backup-service" "backupService" "restore-service" "restoreService" "verify-service" "verifyService") .service -}}
{{- get .root.Values.global.auth.serviceTokenKeys $field -}}
{{- end -}}

{{/*
The lifeboat.databases.<label>.* keys each service is given. Every service reads the one shared schema
(host, port, database, user, password-file, prefix, rpo, rto, retention.*); each gets only what it uses, so only backup-service
holds the databases' passwords (least privilege).
*/}}
{{- define "lifeboat.databaseKeys" -}}
{{- $keys := dict
      "backup-service" (list "host" "port" "database" "user" "password-file" "prefix" "retention")
      "restore-service" (list "prefix")
      "verify-service" (list "prefix" "rpo" "rto") -}}
{{- toJson (get $keys .) -}}
{{- end -}}

{{/*
The Secret keys the current service reads, as a YAML list of {secret, key, path}; path is relative to
lifeboat.secretsDir.
*/}}
{{- define "lifeboat.secretFiles" -}}
{{- $g := .Values.global -}}
{{- $service := .Chart.Name -}}
{{- $files := list -}}
{{- if has "password-file" (include "lifeboat.databaseKeys" $service | fromJsonArray) -}}
{{- range $label, $db := $g.databases -}}
{{- $files = append $files (dict "secret" $db.existingSecret "key" (default "password" $db.passwordKey) "path" (printf "databases/%s/password" $label)) -}}
{{- with $db.pitr }}{{ if and .enabled .existingSecret -}}
{{- $files = append $files (dict "secret" .existingSecret "key" (default "password" .passwordKey) "path" (printf "databases/%s/pitr-password" $label)) -}}
{{- end }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if eq $service "restore-service" -}}
{{- range $name, $t := $g.targets -}}
{{- $files = append $files (dict "secret" $t.existingSecret "key" (default "password" $t.passwordKey) "path" (printf "targets/%s/password" $name)) -}}
{{- end -}}
{{- end -}}
{{- if eq $service "verify-service" -}}
{{- with get $g.targets $g.verify.target -}}
{{- $files = append $files (dict "secret" .existingSecret "key" (default "password" .passwordKey) "path" (printf "targets/%s/password" $g.verify.target)) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $g.store.type "s3") $g.store.s3.existingSecret -}}
{{- $files = append $files (dict "secret" $g.store.s3.existingSecret "key" $g.store.s3.accessKeyIdKey "path" "s3/access-key-id") -}}
{{- $files = append $files (dict "secret" $g.store.s3.existingSecret "key" $g.store.s3.secretAccessKeyKey "path" "s3/secret-access-key") -}}
{{- end -}}
{{- with $g.store.integrity.existingSecret -}}
{{- $files = append $files (dict "secret" . "key" $g.store.integrity.key "path" "integrity/keys") -}}
{{- end -}}
{{- if and (ne $service "backup-service") $g.encryption.existingSecret -}}
{{- range $g.encryption.identityKeys -}}
{{- $files = append $files (dict "secret" $g.encryption.existingSecret "key" . "path" (printf "age/%s" .)) -}}
{{- end -}}
{{- end -}}
{{- if $g.auth.enabled -}}
{{- $secret := $g.auth.existingSecret -}}
{{- $files = append $files (dict "secret" $secret "key" (include "lifeboat.serviceTokenKey" (dict "root" . "service" $service)) "path" "tokens/self") -}}
{{- $caller := include "lifeboat.callerOf" $service -}}
{{- $files = append $files (dict "secret" $secret "key" (include "lifeboat.serviceTokenKey" (dict "root" . "service" $caller)) "path" (printf "tokens/peers/%s" $caller)) -}}
{{- range $name, $client := $g.auth.clients -}}
{{- if $client -}}
{{- $files = append $files (dict "secret" $secret "key" (default $name $client.key) "path" (printf "tokens/clients/%s" $name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* a missing Secret name is reported by lifeboat.validateValues; skip it here so that report is reached */ -}}
{{- $named := list -}}
{{- range $files }}{{ if .secret }}{{ $named = append $named . }}{{ end }}{{ end -}}
{{- toYaml $named -}}
{{- end -}}

{{/* A properties-file value: backslashes and line breaks escaped. */}}
{{- define "lifeboat.propertyValue" -}}
{{- toString . | replace "\\" "\\\\" | replace "\r" "" | replace "\n" "\\n" -}}
{{- end -}}

{{/* The current service's settings, as the text of its application.properties. */}}
{{- define "lifeboat.applicationProperties" -}}
{{- $g := .Values.global -}}
{{- $service := .Chart.Name -}}
{{- $dir := include "lifeboat.secretsDir" . -}}
{{- $s := dict -}}
{{- $_ := set $s "quarkus.http.port" "8080" -}}
{{- $_ = set $s "quarkus.management.port" "9000" -}}
{{- /* graceful shutdown: running jobs get the pod's grace period less 15 s to finish, the rest to stop cleanly;
       verify-service has no job to drain (an interrupted verification ends ERROR and the sweep retries it) and
       refuses keys it does not read */ -}}
{{- if ne $service "verify-service" -}}
{{- $_ = set $s "lifeboat.shutdown.grace" (printf "%ds" (max 0 (sub (.Values.terminationGracePeriodSeconds | int64) 15))) -}}
{{- end -}}
{{- /* store */ -}}
{{- $_ = set $s "lifeboat.store.type" $g.store.type -}}
{{- if eq $g.store.type "s3" -}}
{{- $_ = set $s "lifeboat.store.s3.bucket" $g.store.s3.bucket -}}
{{- with $g.store.s3.prefix }}{{ $_ = set $s "lifeboat.store.s3.prefix" . }}{{ end -}}
{{- with $g.store.s3.endpoint }}{{ $_ = set $s "lifeboat.store.s3.endpoint" . }}{{ end -}}
{{- $_ = set $s "lifeboat.store.s3.region" $g.store.s3.region -}}
{{- $_ = set $s "lifeboat.store.s3.path-style" (toString $g.store.s3.pathStyle) -}}
{{- $_ = set $s "lifeboat.store.s3.part-size" (toString ($g.store.s3.partSize | int64)) -}}
{{- if $g.store.s3.existingSecret -}}
{{- $_ = set $s "lifeboat.store.s3.access-key-id-file" (printf "%s/s3/access-key-id" $dir) -}}
{{- $_ = set $s "lifeboat.store.s3.secret-access-key-file" (printf "%s/s3/secret-access-key" $dir) -}}
{{- end -}}
{{- else -}}
{{- $_ = set $s "lifeboat.store.filesystem.path" $g.store.filesystem.path -}}
{{- end -}}
{{- /* retries of transient store failures: every service reads the store */ -}}
{{- $_ = set $s "lifeboat.store.retry.max-attempts" (toString ($g.store.retry.maxAttempts | int64)) -}}
{{- $_ = set $s "lifeboat.store.retry.initial-backoff" $g.store.retry.initialBackoff -}}
{{- $_ = set $s "lifeboat.store.retry.max-backoff" $g.store.retry.maxBackoff -}}
{{- $_ = set $s "lifeboat.store.retry.max-total" $g.store.retry.maxTotal -}}
{{- if eq $g.store.type "s3" -}}
{{- if eq $service "backup-service" -}}
{{- /* the lifecycle rules (backup-service applies them and tags the data it writes) and the storage cost estimate */ -}}
{{- with $g.store.s3.lifecycle -}}
{{- if .manage -}}
{{- $_ = set $s "lifeboat.store.s3.lifecycle.manage" "true" -}}
{{- $_ = set $s "lifeboat.store.s3.lifecycle.standard-ia-after-days" (toString (.standardIaAfterDays | int64)) -}}
{{- $_ = set $s "lifeboat.store.s3.lifecycle.glacier-after-days" (toString (.glacierAfterDays | int64)) -}}
{{- $_ = set $s "lifeboat.store.s3.lifecycle.deep-archive-after-days" (toString (.deepArchiveAfterDays | int64)) -}}
{{- $_ = set $s "lifeboat.store.s3.lifecycle.abort-incomplete-after-days" (toString (.abortIncompleteAfterDays | int64)) -}}
{{- end -}}
{{- end -}}
{{- with $g.store.prices -}}
{{- $_ = set $s "lifeboat.store.prices.standard" (toString .standard) -}}
{{- $_ = set $s "lifeboat.store.prices.standard-ia" (toString .standardIa) -}}
{{- $_ = set $s "lifeboat.store.prices.glacier" (toString .glacier) -}}
{{- $_ = set $s "lifeboat.store.prices.deep-archive" (toString .deepArchive) -}}
{{- end -}}
{{- else -}}
{{- /* restores and verifications of archived backups ask for a retrieval and wait for it */ -}}
{{- with $g.store.s3.archive -}}
{{- $_ = set $s "lifeboat.store.s3.archive.tier" .tier -}}
{{- $_ = set $s "lifeboat.store.s3.archive.days" (toString (.days | int64)) -}}
{{- $_ = set $s "lifeboat.store.s3.archive.poll-interval" .pollInterval -}}
{{- $_ = set $s "lifeboat.store.s3.archive.timeout" .timeout -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $g.store.integrity.existingSecret -}}
{{- $_ = set $s "lifeboat.store.integrity-key-file" (printf "%s/integrity/keys" $dir) -}}
{{- end -}}
{{- /* encryption: backup-service encrypts, the others decrypt */ -}}
{{- if eq $service "backup-service" -}}
{{- with $g.encryption.recipients }}{{ $_ = set $s "lifeboat.encryption.recipients" (join "," .) }}{{ end -}}
{{- else if $g.encryption.existingSecret -}}
{{- $paths := list -}}
{{- range $g.encryption.identityKeys }}{{ $paths = append $paths (printf "%s/age/%s" $dir .) }}{{ end -}}
{{- $_ = set $s "lifeboat.encryption.identity-files" (join "," $paths) -}}
{{- end -}}
{{- /* authentication: the clients, the one peer that calls this service, and this service's own token */ -}}
{{- if $g.auth.enabled -}}
{{- range $name, $client := $g.auth.clients -}}
{{- if $client -}}
{{- $_ = set $s (printf "lifeboat.auth.tokens.%s.token-file" $name) (printf "%s/tokens/clients/%s" $dir $name) -}}
{{- $_ = set $s (printf "lifeboat.auth.tokens.%s.roles" $name) (join "," $client.roles) -}}
{{- end -}}
{{- end -}}
{{- $caller := include "lifeboat.callerOf" $service -}}
{{- $_ = set $s (printf "lifeboat.auth.tokens.%s.token-file" $caller) (printf "%s/tokens/peers/%s" $dir $caller) -}}
{{- $_ = set $s (printf "lifeboat.auth.tokens.%s.roles" $caller) (include "lifeboat.callerRole" $service) -}}
{{- $_ = set $s "lifeboat.peers.token-file" (printf "%s/tokens/self" $dir) -}}
{{- else -}}
{{- $_ = set $s "lifeboat.auth.enabled" "false" -}}
{{- end -}}
{{- $peer := include "lifeboat.peerOf" $service -}}
{{- $_ = set $s (printf "lifeboat.peers.%s-url" (trimSuffix "-service" $peer)) (printf "http://%s.%s.svc:8080" (include "lifeboat.serviceFullname" (dict "root" . "service" $peer)) .Release.Namespace) -}}
{{- /* databases: the keys this service accepts (lifeboat.databaseKeys) */ -}}
{{- $accepted := include "lifeboat.databaseKeys" $service | fromJsonArray -}}
{{- range $label, $db := $g.databases -}}
{{- $all := dict
      "host" $db.host
      "port" (toString (default 5432 $db.port | int))
      "database" $db.database
      "user" (default "postgres" $db.user)
      "password-file" (printf "%s/databases/%s/password" $dir $label)
      "prefix" $db.prefix
      "rpo" (default $g.objectives.rpo $db.rpo)
      "rto" (default $g.objectives.rto $db.rto) -}}
{{- range $key := $accepted -}}
{{- with get $all $key }}{{ $_ := set $s (printf "lifeboat.databases.%s.%s" $label $key) . }}{{ end -}}
{{- end -}}
{{- /* point-in-time recovery: backup-service runs the WAL archive and the base backups */ -}}
{{- if and (ne $service "restore-service") $db.pitr -}}
{{- $pitr := $db.pitr -}}
{{- /* verify-service: enabled only (its status shows the recovery window) */ -}}
{{- $_ := set $s (printf "lifeboat.databases.%s.pitr.enabled" $label) (toString (default false $pitr.enabled)) -}}
{{- if and $pitr.enabled (eq $service "backup-service") -}}
{{- with $pitr.user }}{{ $_ := set $s (printf "lifeboat.databases.%s.pitr.user" $label) . }}{{ end -}}
{{- if $pitr.existingSecret }}{{ $_ := set $s (printf "lifeboat.databases.%s.pitr.password-file" $label) (printf "%s/databases/%s/pitr-password" $dir $label) }}{{ end -}}
{{- with $pitr.partialInterval }}{{ $_ := set $s (printf "lifeboat.databases.%s.pitr.partial-interval" $label) . }}{{ end -}}
{{- with $pitr.baseSchedule }}{{ $_ := set $s (printf "lifeboat.databases.%s.pitr.base-schedule" $label) . }}{{ end -}}
{{- with $pitr.slot }}{{ $_ := set $s (printf "lifeboat.databases.%s.pitr.slot" $label) . }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if has "retention" $accepted -}}
{{- /* only the keys given: the others fall back to lifeboat.retention.* in the service */ -}}
{{- range $key, $value := (default dict $db.retention) -}}
{{- $v := $value }}{{ if kindIs "float64" $value }}{{ $v = $value | int64 }}{{ end -}}
{{- $_ := set $s (printf "lifeboat.databases.%s.retention.%s" $label (kebabcase $key)) (toString $v) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* per service */ -}}
{{- if eq $service "backup-service" -}}
{{- $_ = set $s "lifeboat.backup.schedule" $g.schedules.backup -}}
{{- $_ = set $s "lifeboat.pitr.spool-dir" "/var/lib/lifeboat/wal-spool" -}}
{{- $_ = set $s "lifeboat.backup.timezone" $g.schedules.timezone -}}
{{- $_ = set $s "lifeboat.backup.compression" .Values.backup.compression -}}
{{- $_ = set $s "lifeboat.backup.format" .Values.backup.format -}}
{{- $_ = set $s "lifeboat.backup.timeout" .Values.backup.timeout -}}
{{- /* retention: on/off and the time zone always (the zone of the backup schedule unless given), the rest only when set */ -}}
{{- with $g.retention -}}
{{- $_ = set $s "lifeboat.retention.enabled" (toString .enabled) -}}
{{- $_ = set $s "lifeboat.retention.timezone" (default $g.schedules.timezone .timezone) -}}
{{- with .maxAge }}{{ $_ = set $s "lifeboat.retention.max-age" . }}{{ end -}}
{{- with .safetyMaxAge }}{{ $_ = set $s "lifeboat.retention.safety-max-age" . }}{{ end -}}
{{- with .schedule }}{{ $_ = set $s "lifeboat.retention.schedule" . }}{{ end -}}
{{- range $key := list "keepLast" "daily" "weekly" "monthly" "yearly" "minKeep" -}}
{{- with get $g.retention $key }}{{ $_ = set $s (printf "lifeboat.retention.%s" (kebabcase $key)) (toString (. | int64)) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- else if eq $service "restore-service" -}}
{{- $_ = set $s "lifeboat.restore.timeout" .Values.restore.timeout -}}
{{- $_ = set $s "lifeboat.restore.pods-gone-timeout" .Values.restore.podsGoneTimeout -}}
{{- $_ = set $s "lifeboat.restore.scratch-ttl" .Values.restore.scratchTtl -}}
{{- $_ = set $s "lifeboat.restore.pitr.spool-dir" "/var/lib/lifeboat/pitr" -}}
{{- range $name, $t := $g.targets -}}
{{- $p := printf "lifeboat.targets.%s." $name -}}
{{- $_ = set $s (print $p "host") $t.host -}}
{{- $_ = set $s (print $p "port") (toString (default 5432 $t.port | int)) -}}
{{- $_ = set $s (print $p "database") $t.database -}}
{{- $_ = set $s (print $p "user") (default "postgres" $t.user) -}}
{{- $_ = set $s (print $p "password-file") (printf "%s/targets/%s/password" $dir $name) -}}
{{- $_ = set $s (print $p "scratch") (toString (default false $t.scratch)) -}}
{{- with $t.databaseLabel }}{{ $_ = set $s (print $p "database-label") . }}{{ end -}}
{{- with $t.modes }}{{ $_ = set $s (print $p "modes") (join "," .) }}{{ end -}}
{{- with $t.maintenanceDatabase }}{{ $_ = set $s (print $p "maintenance-database") . }}{{ end -}}
{{- if hasKey $t "safetyBackup" }}{{ $_ = set $s (print $p "safety-backup") (toString $t.safetyBackup) }}{{ end -}}
{{- if include "lifeboat.hasWorkloads" $t -}}
{{- $_ = set $s (print $p "workloads.namespace") (default $.Release.Namespace $t.workloads.namespace) -}}
{{- with $t.workloads.deployments }}{{ $_ = set $s (print $p "workloads.deployments") (join "," .) }}{{ end -}}
{{- with $t.workloads.statefulsets }}{{ $_ = set $s (print $p "workloads.statefulsets") (join "," .) }}{{ end -}}
{{- with $t.workloads.selector }}{{ $_ = set $s (print $p "workloads.selector") . }}{{ end -}}
{{- end -}}
{{- end -}}
{{- else if eq $service "verify-service" -}}
{{- $_ = set $s "lifeboat.objectives.rpo" $g.objectives.rpo -}}
{{- $_ = set $s "lifeboat.objectives.rto" $g.objectives.rto -}}
{{- $_ = set $s "lifeboat.verify.target" $g.verify.target -}}
{{- with get $g.targets $g.verify.target -}}
{{- $_ = set $s "lifeboat.verify.scratch.host" .host -}}
{{- $_ = set $s "lifeboat.verify.scratch.port" (toString (default 5432 .port | int)) -}}
{{- $_ = set $s "lifeboat.verify.scratch.user" (default "postgres" .user) -}}
{{- $_ = set $s "lifeboat.verify.scratch.password-file" (printf "%s/targets/%s/password" $dir $g.verify.target) -}}
{{- end -}}
{{- $_ = set $s "lifeboat.verify.sweep-schedule" $g.schedules.verifySweep -}}
{{- $_ = set $s "lifeboat.verify.checksum-schedule" $g.schedules.checksumPass -}}
{{- $_ = set $s "lifeboat.verify.timezone" $g.schedules.timezone -}}
{{- $_ = set $s "lifeboat.verify.sweep-window" .Values.verify.sweepWindow -}}
{{- $_ = set $s "lifeboat.verify.amcheck.enabled" (toString .Values.verify.amcheck) -}}
{{- range $name, $check := .Values.verify.checks -}}
{{- $_ = set $s (printf "lifeboat.verify.checks.%s.sql" $name) $check.sql -}}
{{- with $check.databases }}{{ $_ = set $s (printf "lifeboat.verify.checks.%s.databases" $name) (join "," .) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- /* extra settings last: they win */ -}}
{{- range $key, $value := .Values.settings -}}
{{- $_ = set $s $key (toString $value) -}}
{{- end -}}
# {{ .Chart.Name }} settings, rendered by the lifeboat Helm chart from its values (README "Install on Kubernetes").
# Secrets are not here: the *-file settings name files mounted from Secrets under {{ $dir }}.
{{- range $key := keys $s | sortAlpha }}
{{ $key }}={{ include "lifeboat.propertyValue" (get $s $key) }}
{{- end }}
{{- end -}}

{{/* Non-empty when a restore target names workloads to scale down (then restore-service needs the API). */}}
{{- define "lifeboat.hasWorkloads" -}}
{{- with .workloads -}}
{{- if or .deployments .statefulsets .selector }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* The namespaces restore-service scales workloads in (a Role in each), as a JSON list. */}}
{{- define "lifeboat.workloadNamespaces" -}}
{{- $namespaces := list -}}
{{- range $name, $t := .Values.global.targets -}}
{{- if include "lifeboat.hasWorkloads" $t -}}
{{- $namespaces = append $namespaces (default $.Release.Namespace $t.workloads.namespace) -}}
{{- end -}}
{{- end -}}
{{- toJson ($namespaces | uniq | sortAlpha) -}}
{{- end -}}
