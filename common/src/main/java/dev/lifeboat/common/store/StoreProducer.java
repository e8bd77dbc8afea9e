package dev.lifeboat.common.store;

import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import java.net.URI;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

/**
 * Builds the one {@link ObjectStore} of a service from {@code lifeboat.store.*}. The S3 client is built here
 * from Lifeboat's own keys (DESIGN §10) rather than {@code quarkus.s3.*}, so one set of keys configures every
 * service; quarkus-amazon-s3 still provides the SDK's native-image support. This is the place where store
 * decorators (retries, metrics) are wired.
 */
@ApplicationScoped
public class StoreProducer {

    @Produces
    @ApplicationScoped
    public ObjectStore objectStore(StoreConfig config) {
        return switch (config.type()) {
            case FILESYSTEM -> new FilesystemObjectStore(config.filesystem().path());
            case S3 -> s3Store(config.s3());
        };
    }

    static ObjectStore s3Store(StoreConfig.S3 c) {
        String bucket = c.bucket().filter(b -> !b.isBlank()).orElseThrow(() ->
                new InvalidConfiguration("lifeboat.store.type=s3 needs lifeboat.store.s3.bucket"));
        if (c.partSize() < S3ObjectStore.MIN_PART_SIZE) {
            throw new InvalidConfiguration("lifeboat.store.s3.part-size must be at least 5242880 (5 MiB); got "
                    + c.partSize());
        }
        S3ClientBuilder builder = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .region(Region.of(c.region()))
                .forcePathStyle(c.pathStyle())
                // SHA-256 of the stored bytes is ours; flexible checksums are not understood by every S3 server
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .credentialsProvider(credentials(c));
        c.endpoint().filter(e -> !e.isBlank()).ifPresent(e -> builder.endpointOverride(URI.create(e)));
        return new S3ObjectStore(builder.build(), bucket, c.prefix().orElse(""), c.partSize());
    }

    static AwsCredentialsProvider credentials(StoreConfig.S3 c) {
        boolean id = c.accessKeyId().isPresent() || c.accessKeyIdFile().isPresent();
        boolean secret = c.secretAccessKey().isPresent() || c.secretAccessKeyFile().isPresent();
        if (id != secret) {
            throw new InvalidConfiguration("lifeboat.store.s3: give both the access key id (access-key-id or "
                    + "access-key-id-file) and the secret access key (secret-access-key or secret-access-key-file), "
                    + "or neither to use the AWS default credential chain");
        }
        if (!id) {
            return DefaultCredentialsProvider.builder().build();
        }
        if (c.accessKeyIdFile().isEmpty() && c.secretAccessKeyFile().isEmpty()) {
            return StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(c.accessKeyId().get(), c.secretAccessKey().get()));
        }
        return new FileCredentialsProvider(c.accessKeyId(), c.accessKeyIdFile(), c.secretAccessKey(),
                c.secretAccessKeyFile());
    }
}
