package dev.lifeboat.common.store;

import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import java.net.URI;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

/**
 * Builds the one {@link ObjectStore} of a service from {@code lifeboat.store.*}, and the one place where store
 * decorators are wired: the store is wrapped in {@link RetryingObjectStore}, whose {@link RetryPolicy} (shared with
 * the S3 store for part uploads, commits and resumed reads) retries transient failures and feeds
 * {@link StoreMetrics}. The S3 client is built here from Lifeboat's own keys (DESIGN §10) rather than
 * {@code quarkus.s3.*}, so one set of keys configures every service; quarkus-amazon-s3 still provides the SDK's
 * native-image support. The SDK's own retries are off, so that ours is the only policy and every retry is counted.
 */
@ApplicationScoped
public class StoreProducer {

    @Produces
    @ApplicationScoped
    public ObjectStore objectStore(StoreConfig config, MeterRegistry registry) {
        return create(config, registry);
    }

    /** The decorated store {@code config} describes, counting into {@code registry}; also what tests build. */
    public static ObjectStore create(StoreConfig config, MeterRegistry registry) {
        RetryPolicy policy = new RetryPolicy(settings(config.retry()), new StoreMetrics(registry));
        ObjectStore store = switch (config.type()) {
            case FILESYSTEM -> new FilesystemObjectStore(config.filesystem().path());
            case S3 -> s3Store(config.s3(), policy);
        };
        return new RetryingObjectStore(store, policy);
    }

    static RetryPolicy.Settings settings(StoreConfig.Retry r) {
        try {
            return new RetryPolicy.Settings(r.maxAttempts(), r.initialBackoff(), r.maxBackoff(), r.maxTotal());
        } catch (IllegalArgumentException e) {
            throw new InvalidConfiguration(e.getMessage());
        }
    }

    static S3ObjectStore s3Store(StoreConfig.S3 c, RetryPolicy policy) {
        String bucket = c.bucket().filter(b -> !b.isBlank()).orElseThrow(() ->
                new InvalidConfiguration("lifeboat.store.type=s3 needs lifeboat.store.s3.bucket"));
        if (c.partSize() < S3ObjectStore.MIN_PART_SIZE || c.partSize() > PartSchedule.MAX_PART_SIZE) {
            throw new InvalidConfiguration("lifeboat.store.s3.part-size must be between 5242880 (5 MiB) and "
                    + PartSchedule.MAX_PART_SIZE + " (2047 MiB); got " + c.partSize());
        }
        S3Client client = s3Client(c.endpoint().filter(e -> !e.isBlank()).map(URI::create).orElse(null),
                Region.of(c.region()), c.pathStyle(), credentials(c));
        S3ArchiveRetrieval.Settings archive;
        try {
            archive = new S3ArchiveRetrieval.Settings(c.archive().tier(), c.archive().days());
        } catch (IllegalArgumentException e) {
            throw new InvalidConfiguration(e.getMessage());
        }
        return new S3ObjectStore(client, bucket, c.prefix().orElse(""), c.partSize(), policy).withArchive(archive)
                .withTags(c.lifecycle().manage());
    }

    /** The S3 client of the store: URL-connection HTTP client, no SDK retries, SDK flexible checksums off. Public for tests that inspect a bucket the way the services see it. */
    public static S3Client s3Client(URI endpoint, Region region, boolean pathStyle, AwsCredentialsProvider credentials) {
        S3ClientBuilder builder = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .region(region)
                .forcePathStyle(pathStyle)
                // RetryPolicy is the only retry policy: the SDK's would multiply attempts and hide them from metrics
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.doNotRetry()))
                // SHA-256 of the stored bytes is ours; flexible checksums are not understood by every S3 server
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .credentialsProvider(credentials);
        if (endpoint != null) {
            builder.endpointOverride(endpoint);
        }
        return builder.build();
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
