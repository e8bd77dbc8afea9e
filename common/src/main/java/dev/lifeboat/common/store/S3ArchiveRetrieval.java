package dev.lifeboat.common.store;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GlacierJobParameters;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.RestoreObjectRequest;
import software.amazon.awssdk.services.s3.model.RestoreRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.Tier;

/**
 * {@link ArchiveRetrieval} for S3, after the AWS documentation: RestoreObject (a tier, Expedited, Standard or Bulk,
 * and the days the copy stays), HeadObject's {@code x-amz-storage-class} and {@code x-amz-restore:
 * ongoing-request="true"} or {@code ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"}.
 * A second RestoreObject while one runs is answered 409 RestoreAlreadyInProgress: not an error here.
 */
public final class S3ArchiveRetrieval implements ArchiveRetrieval {
    private static final Pattern ONGOING = Pattern.compile("ongoing-request\\s*=\\s*\"(true|false)\"");
    private static final Pattern EXPIRY = Pattern.compile("expiry-date\\s*=\\s*\"([^\"]+)\"");

    /** Tier and days of the restored copy ({@code lifeboat.store.s3.archive.*}). */
    public record Settings(String tier, int days) {
        public static final Settings DEFAULT = new Settings("Standard", 7);

        public Settings {
            tier = tierName(tier);
            if (days < 1) {
                throw new IllegalArgumentException("lifeboat.store.s3.archive.days must be at least 1; got " + days);
            }
        }

        private static String tierName(String tier) {
            for (Tier t : new Tier[] {Tier.EXPEDITED, Tier.STANDARD, Tier.BULK}) {
                if (t.toString().equalsIgnoreCase(tier == null ? "" : tier.strip())) {
                    return t.toString();
                }
            }
            throw new IllegalArgumentException("lifeboat.store.s3.archive.tier must be Expedited, Standard or Bulk; got "
                    + tier);
        }
    }

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final Settings settings;
    private final RetryPolicy policy;

    S3ArchiveRetrieval(S3Client s3, String bucket, String prefix, Settings settings, RetryPolicy policy) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix;
        this.settings = settings;
        this.policy = policy;
    }

    @Override
    public Observation observe(String key) throws IOException {
        String full = prefix + ObjectStore.checkKey(key);
        HeadObjectResponse head = policy.call(StoreOperation.RESTORE_STATUS, () -> {
            try {
                return s3.headObject(HeadObjectRequest.builder().bucket(bucket).key(full).build());
            } catch (SdkException e) {
                throw S3Errors.classify(StoreOperation.RESTORE_STATUS, key, bucket, "s3://" + bucket + "/" + full, e);
            }
        });
        String storageClass = head.storageClassAsString() == null ? ObjectStore.ObjectInfo.STANDARD
                : head.storageClassAsString();
        return observation(storageClass, head.restore());
    }

    /** An observation from a storage class and an {@code x-amz-restore} header value (null when absent). */
    static Observation observation(String storageClass, String restoreHeader) {
        Boolean ongoing = null;
        Instant expiry = null;
        if (restoreHeader != null) {
            Matcher m = ONGOING.matcher(restoreHeader);
            if (m.find()) {
                ongoing = Boolean.valueOf(m.group(1));
            }
            Matcher e = EXPIRY.matcher(restoreHeader);
            if (e.find()) {
                try {
                    expiry = ZonedDateTime.parse(e.group(1), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                } catch (DateTimeParseException ignored) {
                    // an unreadable expiry: the copy is treated as readable until a HEAD says otherwise
                }
            }
        }
        return new Observation(storageClass, ArchiveRetrieval.archiveClass(storageClass), ongoing, expiry);
    }

    @Override
    public void request(String key) throws IOException {
        String full = prefix + ObjectStore.checkKey(key);
        policy.call(StoreOperation.RESTORE_REQUEST, () -> {
            try {
                s3.restoreObject(RestoreObjectRequest.builder().bucket(bucket).key(full)
                        .restoreRequest(RestoreRequest.builder().days(settings.days())
                                .glacierJobParameters(GlacierJobParameters.builder().tier(settings.tier()).build())
                                .build())
                        .build());
            } catch (S3Exception e) {
                if (e.statusCode() == 409 && e.awsErrorDetails() != null
                        && "RestoreAlreadyInProgress".equals(e.awsErrorDetails().errorCode())) {
                    return null;
                }
                throw S3Errors.classify(StoreOperation.RESTORE_REQUEST, key, bucket, "s3://" + bucket + "/" + full, e);
            } catch (SdkException e) {
                throw S3Errors.classify(StoreOperation.RESTORE_REQUEST, key, bucket, "s3://" + bucket + "/" + full, e);
            }
            return null;
        });
    }

    /**
     * AWS's published retrieval times (upper bounds): GLACIER Expedited 1-5 min, Standard 3-5 h, Bulk 5-12 h;
     * DEEP_ARCHIVE Standard within 12 h, Bulk within 48 h (it has no Expedited tier: AWS answers 400, so Standard's
     * time is given).
     */
    @Override
    public Duration expectedTime(String storageClass) {
        boolean deep = "DEEP_ARCHIVE".equals(storageClass);
        return switch (settings.tier().toLowerCase(Locale.ROOT)) {
            case "expedited" -> deep ? Duration.ofHours(12) : Duration.ofMinutes(5);
            case "bulk" -> deep ? Duration.ofHours(48) : Duration.ofHours(12);
            default -> deep ? Duration.ofHours(12) : Duration.ofHours(5);
        };
    }

    @Override
    public String tier() {
        return settings.tier();
    }
}
