package dev.lifeboat.restore.service;

import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.restore.config.RestoreServiceConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The settings the load's session gives itself for a bulk load ({@code lifeboat.restore.session.*}): more memory and
 * parallel workers for the index builds at the end of the dump, and no wait for the WAL flush of its one COMMIT.
 * They are {@code SET LOCAL} statements for {@link DumpLoader}'s preamble, inside the load's transaction, so they end
 * with it and never touch the server's configuration ({@code ALTER SYSTEM}, {@code postgresql.conf}).
 */
final class SessionTuning {
    /** A setting's value as an operator writes it: a number with a unit, or a word (no quotes, no semicolons). */
    private static final Pattern VALUE = Pattern.compile("[A-Za-z0-9_.]{1,32}");

    private SessionTuning() {
    }

    /** The {@code SET LOCAL} lines of the configured settings (empty values left out), checked first. */
    static String preamble(RestoreServiceConfig.Session session) {
        Map<String, Optional<String>> settings = new LinkedHashMap<>();
        settings.put("maintenance_work_mem", session.maintenanceWorkMem());
        settings.put("max_parallel_maintenance_workers", session.maxParallelMaintenanceWorkers());
        settings.put("synchronous_commit", session.synchronousCommit());
        StringBuilder sql = new StringBuilder();
        settings.forEach((name, value) -> value.map(String::strip).filter(v -> !v.isEmpty()).ifPresent(v -> {
            if (!VALUE.matcher(v).matches()) {
                throw new InvalidConfiguration("lifeboat.restore.session." + name.replace('_', '-') + " = '" + v
                        + "' is not a setting value (letters, digits, '_' and '.', e.g. 256MB, 2, off)");
            }
            sql.append("SET LOCAL ").append(name).append(" = '").append(v).append("';\n");
        }));
        return sql.toString();
    }
}
