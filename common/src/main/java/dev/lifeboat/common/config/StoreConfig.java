package dev.lifeboat.common.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
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

        /** Multipart part size in bytes (at least 5 MiB); memory used per running backup is about one part. */
        @WithDefault("16777216")
        int partSize();
    }
}
