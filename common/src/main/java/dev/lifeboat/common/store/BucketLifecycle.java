package dev.lifeboat.common.store;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortIncompleteMultipartUpload;
import software.amazon.awssdk.services.s3.model.BucketLifecycleConfiguration;
import software.amazon.awssdk.services.s3.model.DeleteBucketLifecycleRequest;
import software.amazon.awssdk.services.s3.model.ExpirationStatus;
import software.amazon.awssdk.services.s3.model.GetBucketLifecycleConfigurationRequest;
import software.amazon.awssdk.services.s3.model.LifecycleRule;
import software.amazon.awssdk.services.s3.model.LifecycleRuleAndOperator;
import software.amazon.awssdk.services.s3.model.LifecycleRuleFilter;
import software.amazon.awssdk.services.s3.model.PutBucketLifecycleConfigurationRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.Tag;
import software.amazon.awssdk.services.s3.model.Transition;
import software.amazon.awssdk.services.s3.model.TransitionStorageClass;

/**
 * The bucket lifecycle rules Lifeboat owns (DESIGN §5): those whose id starts with {@value #RULE_PREFIX}. Every other
 * rule of the bucket belongs to someone else and is written back exactly as read. S3 has one lifecycle document per
 * bucket, so changing ours is read (GetBucketLifecycleConfiguration; 404 NoSuchLifecycleConfiguration = none), merge,
 * write back (PutBucketLifecycleConfiguration), or DeleteBucketLifecycle when nothing at all is left.
 *
 * <p>Rules: per database, its data objects (under {@code <store prefix><database prefix>/} and tagged
 * {@value #KIND_TAG}={@value #KIND_DATA}) move to STANDARD_IA, GLACIER and DEEP_ARCHIVE after the configured days.
 * Metadata, verification records and roles objects live under the same prefix but are never tagged, so they stay in
 * STANDARD and listings and status stay fast and free of retrieval fees; a prefix filter alone could not tell them
 * apart. One more rule aborts multipart uploads left unfinished for a day under the whole store prefix.
 *
 * <p>Applying is idempotent: when our rules in the bucket already equal the wanted ones, nothing is written.
 */
public final class BucketLifecycle {
    /** Ids of the rules Lifeboat owns start with this. */
    public static final String RULE_PREFIX = "lifeboat-";
    /** The object tag that marks backup data objects, the only objects Lifeboat's transitions apply to. */
    public static final String KIND_TAG = "lifeboat-kind";
    public static final String KIND_DATA = "data";
    /** The tags of a data object. */
    public static final Map<String, String> DATA_TAGS = Map.of(KIND_TAG, KIND_DATA);
    static final String ABORT_RULE = RULE_PREFIX + "abort-incomplete-uploads";
    static final String DATA_RULE = RULE_PREFIX + "data-";

    private final S3Client s3;
    private final String bucket;
    private final String storePrefix;
    private final RetryPolicy policy;

    BucketLifecycle(S3Client s3, String bucket, String storePrefix, RetryPolicy policy) {
        this.s3 = s3;
        this.bucket = bucket;
        this.storePrefix = storePrefix;
        this.policy = policy;
    }

    /**
     * What Lifeboat wants: transitions after these many days (0 = none) and the abort of unfinished uploads.
     */
    public record Policy(int standardIaAfterDays, int glacierAfterDays, int deepArchiveAfterDays,
                         int abortIncompleteAfterDays) {
        public Policy {
            if (standardIaAfterDays < 0 || glacierAfterDays < 0 || deepArchiveAfterDays < 0 || abortIncompleteAfterDays < 1) {
                throw new IllegalArgumentException("lifecycle days must be >= 0 (abort-incomplete-after-days >= 1)");
            }
            // S3 refuses STANDARD_IA before 30 days and classes out of order (each at least 30 days after STANDARD_IA)
            if (standardIaAfterDays > 0 && standardIaAfterDays < 30) {
                throw new IllegalArgumentException("S3 moves objects to STANDARD_IA after 30 days at the earliest; got "
                        + standardIaAfterDays);
            }
            int previous = 0;
            for (int days : new int[] {standardIaAfterDays, glacierAfterDays, deepArchiveAfterDays}) {
                if (days > 0 && days <= previous) {
                    throw new IllegalArgumentException("lifecycle transitions must come later for each colder class "
                            + "(standard-ia < glacier < deep-archive); got " + standardIaAfterDays + "/"
                            + glacierAfterDays + "/" + deepArchiveAfterDays);
                }
                previous = Math.max(previous, days);
            }
        }
    }

    /** One rule of the bucket, as shown by {@code GET /api/v1/storage}. */
    public record Rule(String id, boolean lifeboat, String status, String prefix, Map<String, String> tags,
                       Map<String, Integer> transitions, Integer abortIncompleteAfterDays, Integer expireAfterDays) {
    }

    /** What {@link #apply} did. */
    public enum Change {
        /** Our rules were already as wanted: nothing written. */
        UNCHANGED,
        /** The merged rules were written. */
        WRITTEN,
        /** Nothing was left (no rule of ours wanted, none of anyone else's): the lifecycle document was removed. */
        REMOVED
    }

    /**
     * Brings our rules to what {@code policy} wants for the databases whose key prefixes (inside the store, without
     * trailing slash) {@code databasePrefixes} maps from their labels; an empty policy removes our rules. Foreign
     * rules are kept as they are.
     */
    public Change apply(Map<String, String> databasePrefixes, Optional<Policy> policy) throws IOException {
        List<LifecycleRule> current = read();
        List<LifecycleRule> foreign = current.stream().filter(r -> !ours(r)).toList();
        List<LifecycleRule> wanted = policy.map(p -> wanted(databasePrefixes, p)).orElse(List.of());
        List<LifecycleRule> present = current.stream().filter(BucketLifecycle::ours).toList();
        if (new HashSet<>(present).equals(new HashSet<>(wanted)) && present.size() == wanted.size()) {
            return Change.UNCHANGED;
        }
        List<LifecycleRule> merged = new ArrayList<>(foreign);
        merged.addAll(wanted);
        if (merged.isEmpty()) {
            write(null);
            return Change.REMOVED;
        }
        write(merged);
        return Change.WRITTEN;
    }

    /** The rules in force in the bucket, ours and others', sorted by id. */
    public List<Rule> rules() throws IOException {
        return read().stream().map(BucketLifecycle::view).sorted(Comparator.comparing(Rule::id)).toList();
    }

    /** The rules Lifeboat wants, in a stable order. */
    List<LifecycleRule> wanted(Map<String, String> databasePrefixes, Policy policy) {
        List<LifecycleRule> rules = new ArrayList<>();
        rules.add(LifecycleRule.builder().id(ABORT_RULE).status(ExpirationStatus.ENABLED)
                .filter(LifecycleRuleFilter.builder().prefix(storePrefix).build())
                .abortIncompleteMultipartUpload(AbortIncompleteMultipartUpload.builder()
                        .daysAfterInitiation(policy.abortIncompleteAfterDays()).build())
                .build());
        List<Transition> transitions = new ArrayList<>();
        add(transitions, policy.standardIaAfterDays(), TransitionStorageClass.STANDARD_IA);
        add(transitions, policy.glacierAfterDays(), TransitionStorageClass.GLACIER);
        add(transitions, policy.deepArchiveAfterDays(), TransitionStorageClass.DEEP_ARCHIVE);
        if (!transitions.isEmpty()) {
            for (Map.Entry<String, String> db : new TreeMap<>(databasePrefixes).entrySet()) {
                String prefix = storePrefix + db.getValue().replaceAll("/+$", "") + "/";
                rules.add(LifecycleRule.builder().id(DATA_RULE + db.getKey()).status(ExpirationStatus.ENABLED)
                        .filter(LifecycleRuleFilter.builder().and(LifecycleRuleAndOperator.builder().prefix(prefix)
                                .tags(Tag.builder().key(KIND_TAG).value(KIND_DATA).build()).build()).build())
                        .transitions(transitions)
                        .build());
            }
        }
        return rules;
    }

    private static void add(List<Transition> transitions, int days, TransitionStorageClass storageClass) {
        if (days > 0) {
            transitions.add(Transition.builder().days(days).storageClass(storageClass).build());
        }
    }

    private static boolean ours(LifecycleRule rule) {
        return rule.id() != null && rule.id().startsWith(RULE_PREFIX);
    }

    private List<LifecycleRule> read() throws IOException {
        return policy.call(StoreOperation.LIFECYCLE_READ, () -> {
            try {
                return s3.getBucketLifecycleConfiguration(GetBucketLifecycleConfigurationRequest.builder()
                        .bucket(bucket).build()).rules();
            } catch (S3Exception e) {
                if (e.statusCode() == 404 && e.awsErrorDetails() != null
                        && "NoSuchLifecycleConfiguration".equals(e.awsErrorDetails().errorCode())) {
                    return List.of();
                }
                throw classify(StoreOperation.LIFECYCLE_READ, e);
            } catch (SdkException e) {
                throw classify(StoreOperation.LIFECYCLE_READ, e);
            }
        });
    }

    /** Writes {@code rules}, or removes the bucket's lifecycle document when null. */
    private void write(List<LifecycleRule> rules) throws IOException {
        policy.call(StoreOperation.LIFECYCLE_WRITE, () -> {
            try {
                if (rules == null) {
                    s3.deleteBucketLifecycle(DeleteBucketLifecycleRequest.builder().bucket(bucket).build());
                } else {
                    s3.putBucketLifecycleConfiguration(PutBucketLifecycleConfigurationRequest.builder().bucket(bucket)
                            .lifecycleConfiguration(BucketLifecycleConfiguration.builder().rules(rules).build()).build());
                }
                return null;
            } catch (SdkException e) {
                throw classify(StoreOperation.LIFECYCLE_WRITE, e);
            }
        });
    }

    private StoreException classify(StoreOperation operation, SdkException e) {
        return S3Errors.classify(operation, storePrefix, bucket, "s3://" + bucket + " (lifecycle)", e);
    }

    private static Rule view(LifecycleRule r) {
        String prefix = r.prefix();
        Map<String, String> tags = new TreeMap<>();
        LifecycleRuleFilter f = r.filter();
        if (f != null) {
            if (f.prefix() != null) {
                prefix = f.prefix();
            }
            if (f.tag() != null) {
                tags.put(f.tag().key(), f.tag().value());
            }
            if (f.and() != null) {
                if (f.and().prefix() != null) {
                    prefix = f.and().prefix();
                }
                f.and().tags().forEach(t -> tags.put(t.key(), t.value()));
            }
        }
        Map<String, Integer> transitions = new TreeMap<>();
        r.transitions().forEach(t -> transitions.put(t.storageClassAsString(), t.days()));
        return new Rule(r.id() == null ? "" : r.id(), ours(r), r.statusAsString(), prefix == null ? "" : prefix, tags,
                transitions, r.abortIncompleteMultipartUpload() == null ? null
                : r.abortIncompleteMultipartUpload().daysAfterInitiation(),
                r.expiration() == null ? null : r.expiration().days());
    }
}
