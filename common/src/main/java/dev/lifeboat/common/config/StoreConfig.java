package dev.lifeboat.common.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** Where backups are stored ({@code lifeboat.store.*}, DESIGN §10); shared by every service. */
@ConfigMapping(prefix = "lifeboat.store")
public interface StoreConfig {

    /** {@code filesystem} (local runs, hostPath) or {@code s3}. */
    @WithDefault("filesystem")
    Type type();

    /** Filesystem store settings. */
    Filesystem filesystem();

    /** S3 store settings. */
    S3 s3();

    /** Retries of transient store failures (5xx, throttling, broken connections), for both store types. */
    Retry retry();

    /**
     * File (a mounted Secret) with the keys that sign metadata and verification records (HMAC-SHA-256), one
     * {@code <key-id>=<secret>} per line, the first signing; unset = records are neither signed nor checked.
     */
    Optional<Path> integrityKeyFile();

    enum Type {
        FILESYSTEM, S3
    }

    interface Filesystem {
        /** Folder holding the backups; created when missing. */
        @WithDefault("./lifeboat-backups")
        Path path();
    }

    interface S3 {
        /** Bucket name (required when type is s3). */
        Optional<String> bucket();

        /** Key prefix inside the bucket, e.g. {@code prod/}; empty for none. */
        Optional<String> prefix();

        /** Endpoint of an S3-compatible server (MinIO, Ceph...); unset for AWS. */
        Optional<String> endpoint();

        /** AWS region. */
        @WithDefault("us-east-1")
        String region();

        /** Path-style addressing ({@code endpoint/bucket/key}), needed by most S3-compatible servers. */
        @WithDefault("false")
        boolean pathStyle();

        /** Static access key id; unset to use the AWS default credential chain (IRSA, env, profile). */
        Optional<String> accessKeyId();

        /** Static secret access key; give it through the environment or a Secret, never in a file in git. */
        Optional<String> secretAccessKey();

        /**
         * File holding the access key id (a mounted Secret), instead of {@code access-key-id}; read whenever the
         * client signs a request, so a rotated Secret needs no restart.
         */
        Optional<Path> accessKeyIdFile();

        /** File holding the secret access key (a mounted Secret), instead of {@code secret-access-key}; read likewise. */
        Optional<Path> secretAccessKeyFile();

        /**
         * Size in bytes of the first multipart parts (5 MiB to 2047 MiB); memory used per running backup is about one
         * part. Parts double every 900 parts so that a stream of any size S3 allows fits in its 10,000 parts: the
         * buffer stays at this size up to 900 parts (14 GiB at 16 MiB) and grows to about this size plus 1/900 of
         * the stream after that.
         */
        @WithDefault("16777216")
        int partSize();

        /** The bucket lifecycle rules Lifeboat owns (ids {@code lifeboat-*}); applied by backup-service. */
        Lifecycle lifecycle();

        /** Restores of backups whose data sits in GLACIER or DEEP_ARCHIVE. */
        Archive archive();
    }

    /**
     * Bucket lifecycle rules (backup-service applies them at start-up). With {@code manage=false} Lifeboat's own
     * rules ({@code lifeboat-*}) are removed if present; others' rules are never touched.
     */
    interface Lifecycle {
        /** Whether Lifeboat keeps its rules in the bucket. */
        @WithDefault("false")
        boolean manage();

        /** Data objects move to STANDARD_IA after these many days (S3: at least 30); 0 = never. */
        @WithDefault("30")
        int standardIaAfterDays();

        /** Data objects move to GLACIER (Flexible Retrieval) after these many days; 0 = never. */
        @WithDefault("90")
        int glacierAfterDays();

        /** Data objects move to DEEP_ARCHIVE after these many days; 0 = never. */
        @WithDefault("0")
        int deepArchiveAfterDays();

        /** Multipart uploads left unfinished under the store prefix are aborted after these many days. */
        @WithDefault("1")
        int abortIncompleteAfterDays();
    }

    /** How archived backup data is made readable again (S3 RestoreObject). */
    interface Archive {
        /** Retrieval tier: {@code Expedited} (minutes, GLACIER only), {@code Standard} (hours), {@code Bulk}. */
        @WithDefault("Standard")
        String tier();

        /** Days the restored copy stays readable. */
        @WithDefault("7")
        int days();

        /** How often a waiting restore or verification asks whether the copy is ready. */
        @WithDefault("1m")
        Duration pollInterval();

        /** How long a restore or verification waits for the copy before it fails. */
        @WithDefault("48h")
        Duration timeout();
    }

    /** Prices per GB-month of each storage class, for the cost estimate of {@code GET /api/v1/storage}. */
    Prices prices();

    interface Prices {
        @WithDefault("0.023")
        double standard();

        @WithDefault("0.0125")
        double standardIa();

        @WithDefault("0.004")
        double glacier();

        @WithDefault("0.00099")
        double deepArchive();
    }

    /**
     * The retry policy: only transient failures are retried (never access denied, not found, archived or a
     * conflict), with exponential backoff and full jitter, within both limits below.
     */
    interface Retry {
        /** Attempts per store request, the first included; {@code 1} turns retries off. */
        @WithDefault("5")
        int maxAttempts();

        /** Bound of the wait before the first retry; it doubles for each further retry (the wait is random below it). */
        @WithDefault("200ms")
        Duration initialBackoff();

        /** Largest bound of one wait between attempts. */
        @WithDefault("10s")
        Duration maxBackoff();

        /** Longest one store request may take, attempts and waits included; no retry starts that would end later. */
        @WithDefault("2m")
        Duration maxTotal();
    }
}
