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
