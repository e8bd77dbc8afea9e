{{/*
Combinations of values the schema cannot refuse but no service could run with. Every problem found is listed in
one failure, each naming the value to set, so one `helm template` shows everything to fix.
*/}}
{{- define "lifeboat.validateValues" -}}
{{- $g := .Values.global -}}
{{- $backup := index .Values "backup-service" "enabled" -}}
{{- $restore := index .Values "restore-service" "enabled" -}}
{{- $verify := index .Values "verify-service" "enabled" -}}
{{- $errors := list -}}

{{- /* store */ -}}
{{- if and (eq $g.store.type "s3") (not $g.store.s3.bucket) -}}
{{- $errors = append $errors "global.store.s3.bucket is required with global.store.type=s3: the bucket holding the backups" -}}
{{- end -}}
{{- if and (eq $g.store.type "filesystem") (not $g.store.filesystem.existingClaim) -}}
{{- $errors = append $errors "global.store.filesystem.existingClaim is required with global.store.type=filesystem: a PersistentVolumeClaim the three services share (the containers' own filesystem is read-only and ephemeral)" -}}
{{- end -}}

{{- /* encryption */ -}}
{{- if and $backup $g.databases (not $g.encryption.recipients) (not $g.encryption.allowUnencrypted) -}}
{{- $errors = append $errors "global.encryption.recipients is empty, so backups would be stored unencrypted: list the age public keys to encrypt to, or set global.encryption.allowUnencrypted=true to accept that" -}}
{{- end -}}
{{- if and $g.encryption.recipients (or $restore $verify) (not $g.encryption.existingSecret) -}}
{{- $errors = append $errors "global.encryption.existingSecret is required when global.encryption.recipients is set: the Secret holding the age identities restore-service and verify-service decrypt backups with" -}}
{{- end -}}

{{- /* databases and targets */ -}}
{{- range $label, $db := $g.databases -}}
{{- if not $db.host }}{{ $errors = append $errors (printf "global.databases.%s.host is required" $label) }}{{ end -}}
{{- if not $db.database }}{{ $errors = append $errors (printf "global.databases.%s.database is required: the database name on the server" $label) }}{{ end -}}
{{- if not $db.existingSecret }}{{ $errors = append $errors (printf "global.databases.%s.existingSecret is required: the Secret holding its password (key global.databases.%s.passwordKey, default \"password\")" $label $label) }}{{ end -}}
{{- end -}}
{{- range $name, $t := $g.targets -}}
{{- if not $t.host }}{{ $errors = append $errors (printf "global.targets.%s.host is required" $name) }}{{ end -}}
{{- if not $t.database }}{{ $errors = append $errors (printf "global.targets.%s.database is required: the database restored into (for a scratch target, the one connected to, e.g. postgres)" $name) }}{{ end -}}
{{- if not $t.existingSecret }}{{ $errors = append $errors (printf "global.targets.%s.existingSecret is required: the Secret holding the password restore-service connects with" $name) }}{{ end -}}
{{- if and $t.databaseLabel $g.databases (not (hasKey $g.databases $t.databaseLabel)) }}{{ $errors = append $errors (printf "global.targets.%s.databaseLabel %q is not one of global.databases (%s)" $name $t.databaseLabel (keys $g.databases | sortAlpha | join ", ")) }}{{ end -}}
{{- if and $t.scratch (include "lifeboat.hasWorkloads" $t) }}{{ $errors = append $errors (printf "global.targets.%s is a scratch target: workloads are scaled only around in-place restores, remove its workloads" $name) }}{{ end -}}
{{- if and $restore (not $backup) (not $t.scratch) (ne (toString $t.safetyBackup) "false") }}{{ $errors = append $errors (printf "global.targets.%s takes a safety backup before in-place restores, through backup-service, which is disabled: enable backup-service or set global.targets.%s.safetyBackup=false" $name $name) }}{{ end -}}
{{- end -}}

{{- /* retention: backup-service refuses to start with a policy that is on but keeps nothing (RetentionPolicy) */ -}}
{{- if $backup -}}
{{- $rules := list "maxAge" "keepLast" "daily" "weekly" "monthly" "yearly" -}}
{{- $keeps := false -}}
{{- range $rules }}{{ if get $g.retention . }}{{ $keeps = true }}{{ end }}{{ end -}}
{{- if and $g.retention.enabled (not $keeps) -}}
{{- $errors = append $errors "global.retention.enabled is true but no rule keeps anything: set at least one of global.retention.maxAge, keepLast, daily, weekly, monthly, yearly" -}}
{{- end -}}
{{- range $label, $db := $g.databases -}}
{{- with $db.retention -}}
{{- $own := . -}}
{{- $enabled := ternary $own.enabled $g.retention.enabled (hasKey $own "enabled") -}}
{{- $dbKeeps := false -}}
{{- range $rules -}}
{{- if hasKey $own . }}{{ if get $own . }}{{ $dbKeeps = true }}{{ end }}{{ else if get $g.retention . }}{{ $dbKeeps = true }}{{ end -}}
{{- end -}}
{{- if and $enabled (not $dbKeeps) (or (hasKey $own "enabled") $keeps) -}}
{{- $errors = append $errors (printf "global.databases.%s.retention: the policy of this database is on but no rule keeps anything (its own keys over global.retention): set at least one of maxAge, keepLast, daily, weekly, monthly, yearly" $label) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $g.store.s3.lifecycle.manage (eq $g.store.type "s3") -}}
{{- $l := $g.store.s3.lifecycle -}}
{{- if and (gt ($l.standardIaAfterDays | int) 0) (lt ($l.standardIaAfterDays | int) 30) -}}
{{- $errors = append $errors (printf "global.store.s3.lifecycle.standardIaAfterDays must be 0 (never) or at least 30: S3 moves objects to STANDARD_IA after 30 days at the earliest; got %d" ($l.standardIaAfterDays | int)) -}}
{{- end -}}
{{- end -}}
{{- if lt (include "lifeboat.durationMillis" $g.store.retry.maxBackoff | int64) (include "lifeboat.durationMillis" $g.store.retry.initialBackoff | int64) -}}
{{- $errors = append $errors (printf "global.store.retry.initialBackoff (%s) must be at most global.store.retry.maxBackoff (%s)" $g.store.retry.initialBackoff $g.store.retry.maxBackoff) -}}
{{- end -}}

{{- /* verification */ -}}
{{- if and $verify (or $g.databases $g.targets) -}}
{{- $target := get $g.targets $g.verify.target -}}
{{- if not $target -}}
{{- $errors = append $errors (printf "global.verify.target %q is not one of global.targets: verify-service restores every new backup into a scratch target; add one (scratch: true)" $g.verify.target) -}}
{{- else if not $target.scratch -}}
{{- $errors = append $errors (printf "global.verify.target %q must be a scratch target (global.targets.%s.scratch=true): verifications never restore over a real database" $g.verify.target $g.verify.target) -}}
{{- end -}}
{{- if not $restore -}}
{{- $errors = append $errors "verify-service restores through restore-service, which is disabled: enable restore-service or disable verify-service" -}}
{{- end -}}
{{- end -}}

{{- /* authentication */ -}}
{{- if and $g.auth.enabled (not $g.auth.existingSecret) -}}
{{- $errors = append $errors "global.auth.existingSecret is required with authentication on: the Secret holding the API tokens (see README, Install on Kubernetes)" -}}
{{- end -}}
{{- range $name, $client := $g.auth.clients -}}
{{- if has $name (list "backup-service" "restore-service" "verify-service") -}}
{{- $errors = append $errors (printf "global.auth.clients.%s: the name is taken by the service of that name; choose another" $name) -}}
{{- end -}}
{{- end -}}

{{- /* monitoring */ -}}
{{- if and .Values.monitoring.prometheusRule.enabled (not .Values.monitoring.prometheusRule.runbookBaseUrl) -}}
{{- $errors = append $errors "monitoring.prometheusRule.runbookBaseUrl is required with the alerts on: the URL of Lifeboat's README, whose Runbook sections the alerts link to" -}}
{{- end -}}

{{- if $errors -}}
{{- fail (printf "\n\nlifeboat: these values cannot work:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}


{{/* A duration value (`<n>ms|s|m|h|d`, checked by the schema) in milliseconds, for comparisons. */}}
{{- define "lifeboat.durationMillis" -}}
{{- $n := regexFind "^[0-9]+" . | int64 -}}
{{- $unit := regexFind "[a-z]+$" . -}}
{{- mul $n (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000) $unit) -}}
{{- end -}}
