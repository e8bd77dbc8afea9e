package dev.lifeboat.verify.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * verify-service configuration, {@code lifeboat.*} (DESIGN §10). The store, encryption (identity files), peers,
 * PostgreSQL program, authentication and database keys are shared with the other services and mapped in common
 * ({@code lifeboat.databases.<label>.rpo|rto} override the objectives per database).
 */
@ConfigMapping(prefix = "lifeboat")
public interface VerifyServiceConfig {

    /** The disaster-recovery objectives the status is measured against, unless a database overrides them. */
    Objectives objectives();

    /** How backups are verified. */
    Verify verify();

    interface Objectives {
        /** Recovery point objective: how old the newest good backup may be (measured from when it started). */
        @WithDefault("24h")
        Duration rpo();

        /** Recovery time objective: how long a restore may take (measured by the last full verification). */
        @WithDefault("30m")
        Duration rto();
    }

    interface Verify {
        /** The restore-service target full verifications restore into; it must be a scratch target. */
        @WithDefault("scratch")
        String target();

        /** How to connect to the scratch databases restore-service creates (the scratch target's server). */
        Scratch scratch();

        /** SQL checks run on every fully verified restore, by name; each returns one boolean row, true = pass. */
        Map<String, Check> checks();

        /** amcheck's index checks on the restored database. */
        Amcheck amcheck();

        /** Quartz cron of the sweep that finds backups without a verdict and verifies them fully; {@code off} disables. */
        @WithDefault("0 */15 * * * ?")
        String sweepSchedule();

        /** How far back the sweep looks: older backups without a full verdict only get the daily checksum pass. */
        @WithDefault("7d")
        Duration sweepWindow();

        /** Quartz cron of the checksum pass over every retained backup; {@code off} disables. */
        @WithDefault("0 0 4 * * ?")
        String checksumSchedule();

        /** Time zone the two schedules are read in. */
        @WithDefault("UTC")
        String timezone();

        /**
         * After a verification ended in ERROR (no verdict), the sweep retries it once this has passed, doubling
         * with each further error, up to 6 hours.
         */
        @WithDefault("15m")
        Duration retryDelay();

        /** How long the scratch restore may take, waiting for a busy scratch target included. */
        @WithDefault("6h")
        Duration restoreTimeout();

        /**
         * Connections that read the restored tables back at once for the fingerprint comparison, largest tables first.
         * Each is a psql and a backend: 2 keeps a 2-core machine busy without the reads fighting over it.
         */
        @WithDefault("2")
        int readbackConnections();

        /** How long reading the restored data back, the index checks, and each SQL check may take. */
        @WithDefault("1h")
        Duration queryTimeout();

        /** Verification records kept per backup and level (the newest; the newest passed full one always stays). */
        @WithDefault("10")
        int historyPerBackup();

        /** Finished verifications kept in memory besides the store, for quick {@code GET}s. */
        @WithDefault("100")
        int jobHistory();

        /** How often the status (and its metrics) is recomputed from the store. */
        @WithDefault("1m")
        Duration statusInterval();
    }

    interface Scratch {
        /** Host of the scratch target's server. */
        @WithDefault("localhost")
        String host();

        /** Port of the scratch target's server. */
        @WithDefault("5432")
        int port();

        /** User that reads the restored databases back; needs to read every table (e.g. the scratch target's user). */
        @WithDefault("postgres")
        String user();

        /** Password; prefer {@code password-file}. Never logged. */
        Optional<String> password();

        /** File holding the password (a mounted Secret); read at each verification. */
        Optional<Path> passwordFile();
    }

    interface Check {
        /** A query returning exactly one boolean; true = the restored data passes. Runs read-only. */
        String sql();

        /** Labels of the databases the check applies to; unset = every database. */
        Optional<List<String>> databases();
    }

    interface Amcheck {
        /** Run amcheck's {@code bt_index_check} over every B-tree index where the extension is available. */
        @WithDefault("true")
        boolean enabled();

        /**
         * Also check that every heap row is in its indexes. Off by default: it reads each indexed table once more per
         * index (on the bench data 4.0–4.8 s against 0.4–0.5 s for the structure checks alone), and on a fresh restore
         * it could only catch the server's own index build leaving a row out; the fingerprint read-back has already
         * read every row. On when the scratch server's storage or build is itself under suspicion.
         */
        @WithDefault("false")
        boolean heapallindexed();
    }
}
