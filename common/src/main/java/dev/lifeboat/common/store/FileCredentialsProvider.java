package dev.lifeboat.common.store;

import dev.lifeboat.common.config.Secrets;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import java.nio.file.Path;
import java.util.Optional;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;

/**
 * Static S3 keys of which at least one comes from a file (a mounted Kubernetes Secret,
 * {@code lifeboat.store.s3.access-key-id-file} / {@code secret-access-key-file}). The files are read each time the
 * SDK asks for credentials, so a rotated Secret is picked up without a restart; surrounding whitespace (the usual
 * trailing newline) is ignored. The keys never appear in messages.
 */
final class FileCredentialsProvider implements AwsCredentialsProvider {
    private final Optional<String> accessKeyId;
    private final Optional<Path> accessKeyIdFile;
    private final Optional<String> secretAccessKey;
    private final Optional<Path> secretAccessKeyFile;

    FileCredentialsProvider(Optional<String> accessKeyId, Optional<Path> accessKeyIdFile,
                            Optional<String> secretAccessKey, Optional<Path> secretAccessKeyFile) {
        this.accessKeyId = accessKeyId;
        this.accessKeyIdFile = accessKeyIdFile;
        this.secretAccessKey = secretAccessKey;
        this.secretAccessKeyFile = secretAccessKeyFile;
    }

    @Override
    public AwsCredentials resolveCredentials() {
        return AwsBasicCredentials.create(
                value(accessKeyIdFile, accessKeyId, "lifeboat.store.s3.access-key-id-file"),
                value(secretAccessKeyFile, secretAccessKey, "lifeboat.store.s3.secret-access-key-file"));
    }

    /** The file's content when a file is configured (it wins over the inline value), else the inline value. */
    private static String value(Optional<Path> file, Optional<String> inline, String key) {
        String value = Secrets.read(inline, file, key).orElseThrow();
        if (value.isEmpty()) {
            throw new InvalidConfiguration(key + ": " + file.orElseThrow() + " is empty");
        }
        return value;
    }
}
