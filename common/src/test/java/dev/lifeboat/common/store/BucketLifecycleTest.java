package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.testing.S3MockServer;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.BucketLifecycleConfiguration;
import software.amazon.awssdk.services.s3.model.DeleteBucketLifecycleRequest;
import software.amazon.awssdk.services.s3.model.ExpirationStatus;
import software.amazon.awssdk.services.s3.model.LifecycleExpiration;
import software.amazon.awssdk.services.s3.model.LifecycleRule;
import software.amazon.awssdk.services.s3.model.LifecycleRuleFilter;
import software.amazon.awssdk.services.s3.model.PutBucketLifecycleConfigurationRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.Tag;

/**
 * The bucket lifecycle rules Lifeboat owns, against a server that really stores them (Adobe S3Mock, as a process):
 * merged without touching a foreign rule, not written again when already as wanted (PutBucketLifecycleConfiguration
 * requests are counted on the wire), removed cleanly when no longer managed; and data objects carry the tag the
 * transition rules filter on while metadata does not.
 */
class BucketLifecycleTest {
    private static final String BUCKET = "lifecycle-test";
    private static final BucketLifecycle.Policy DEFAULTS = new BucketLifecycle.Policy(30, 90, 0, 1);
    private static final Map<String, String> DATABASES = Map.of("orders", "orders/main", "billing", "billing/main");

    private static S3MockServer server;
    private static S3Client client;
    private static final AtomicInteger PUTS = new AtomicInteger();
    private static final AtomicInteger DELETES = new AtomicInteger();

    @BeforeAll
    static void start() {
        server = S3MockServer.start(BUCKET);
        client = server.client(new ExecutionInterceptor() {
            @Override
            public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attributes) {
                if (context.request() instanceof PutBucketLifecycleConfigurationRequest) {
                    PUTS.incrementAndGet();
                } else if (context.request() instanceof DeleteBucketLifecycleRequest) {
                    DELETES.incrementAndGet();
                }
            }
        });
    }

    @AfterAll
    static void stop() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static BucketLifecycle lifecycle() {
        return new S3ObjectStore(client, BUCKET, "lifeboat/", S3ObjectStore.MIN_PART_SIZE).lifecycle().orElseThrow();
    }

    private static LifecycleRule foreignRule() {
        return LifecycleRule.builder().id("logs-expire").status(ExpirationStatus.ENABLED)
                .filter(LifecycleRuleFilter.builder().prefix("logs/").build())
                .expiration(LifecycleExpiration.builder().days(14).build()).build();
    }

    private static List<LifecycleRule> bucketRules() {
        return client.getBucketLifecycleConfiguration(b -> b.bucket(BUCKET)).rules();
    }

    @Test
    void ourRulesAreMergedBesideForeignOnesIdempotentlyAndRemovedWhenUnmanaged() throws IOException {
        client.putBucketLifecycleConfiguration(b -> b.bucket(BUCKET)
                .lifecycleConfiguration(BucketLifecycleConfiguration.builder().rules(foreignRule()).build()));
        LifecycleRule foreignAsStored = bucketRules().get(0);
        int puts = PUTS.get();

        assertThat(lifecycle().apply(DATABASES, Optional.of(DEFAULTS))).isEqualTo(BucketLifecycle.Change.WRITTEN);
        assertThat(PUTS.get()).isEqualTo(puts + 1);
        List<LifecycleRule> stored = bucketRules();
        assertThat(stored).extracting(LifecycleRule::id).containsExactlyInAnyOrder("logs-expire",
                "lifeboat-abort-incomplete-uploads", "lifeboat-data-billing", "lifeboat-data-orders");
        assertThat(stored).filteredOn(r -> r.id().equals("logs-expire")).containsExactly(foreignAsStored);
        LifecycleRule orders = stored.stream().filter(r -> r.id().equals("lifeboat-data-orders")).findFirst().orElseThrow();
        assertThat(orders.filter().and().prefix()).isEqualTo("lifeboat/orders/main/");
        assertThat(orders.filter().and().tags()).containsExactly(Tag.builder().key("lifeboat-kind").value("data").build());
        assertThat(orders.transitions()).extracting(t -> t.storageClassAsString() + "@" + t.days())
                .containsExactly("STANDARD_IA@30", "GLACIER@90");
        LifecycleRule abort = stored.stream().filter(r -> r.id().equals("lifeboat-abort-incomplete-uploads"))
                .findFirst().orElseThrow();
        assertThat(abort.filter().prefix()).isEqualTo("lifeboat/");
        assertThat(abort.abortIncompleteMultipartUpload().daysAfterInitiation()).isEqualTo(1);

        // the view of GET /api/v1/storage marks whose rule is whose
        assertThat(lifecycle().rules()).extracting(r -> r.id() + ":" + r.lifeboat()).containsExactly(
                "lifeboat-abort-incomplete-uploads:true", "lifeboat-data-billing:true", "lifeboat-data-orders:true",
                "logs-expire:false");

        // applied again (a restart): nothing written
        assertThat(lifecycle().apply(DATABASES, Optional.of(DEFAULTS))).isEqualTo(BucketLifecycle.Change.UNCHANGED);
        assertThat(PUTS.get()).isEqualTo(puts + 1);

        // settings changed (7/30 is refused by S3 rules for STANDARD_IA, so 30/60) and a database gone
        assertThat(lifecycle().apply(Map.of("orders", "orders/main"), Optional.of(new BucketLifecycle.Policy(30, 60, 0, 1))))
                .isEqualTo(BucketLifecycle.Change.WRITTEN);
        assertThat(bucketRules()).extracting(LifecycleRule::id).containsExactlyInAnyOrder("logs-expire",
                "lifeboat-abort-incomplete-uploads", "lifeboat-data-orders");

        // turned off: ours go, the foreign rule stays as it was
        int deletes = DELETES.get();
        assertThat(lifecycle().apply(DATABASES, Optional.empty())).isEqualTo(BucketLifecycle.Change.WRITTEN);
        assertThat(bucketRules()).containsExactly(foreignAsStored);
        assertThat(DELETES.get()).isEqualTo(deletes);
        // and off again: nothing of ours left, nothing written
        puts = PUTS.get();
        assertThat(lifecycle().apply(DATABASES, Optional.empty())).isEqualTo(BucketLifecycle.Change.UNCHANGED);
        assertThat(PUTS.get()).isEqualTo(puts);
        client.deleteBucketLifecycle(b -> b.bucket(BUCKET));
    }

    @Test
    void withoutForeignRulesTurningOffRemovesTheLifecycleDocument() throws IOException {
        client.deleteBucketLifecycle(b -> b.bucket(BUCKET));
        // a bucket without lifecycle answers 404 NoSuchLifecycleConfiguration: no rules, nothing to remove
        assertThat(lifecycle().rules()).isEmpty();
        int deletes = DELETES.get();
        assertThat(lifecycle().apply(DATABASES, Optional.empty())).isEqualTo(BucketLifecycle.Change.UNCHANGED);
        assertThat(DELETES.get()).isEqualTo(deletes);

        assertThat(lifecycle().apply(DATABASES, Optional.of(DEFAULTS))).isEqualTo(BucketLifecycle.Change.WRITTEN);
        assertThat(bucketRules()).hasSize(3);
        assertThat(lifecycle().apply(DATABASES, Optional.empty())).isEqualTo(BucketLifecycle.Change.REMOVED);
        assertThat(DELETES.get()).isEqualTo(deletes + 1);
        assertThatThrownBy(BucketLifecycleTest::bucketRules).isInstanceOfSatisfying(S3Exception.class,
                e -> assertThat(e.awsErrorDetails().errorCode()).isEqualTo("NoSuchLifecycleConfiguration"));
    }

    @Test
    void dataObjectsCarryTheTagTheTransitionsFilterOnAndOthersDoNot() throws IOException {
        S3ObjectStore store = new S3ObjectStore(client, BUCKET, "lifeboat/", S3ObjectStore.MIN_PART_SIZE).withTags(true);
        try (ObjectStore.PendingObject out = store.create("orders/main/20260101T000000Z-ab12", BucketLifecycle.DATA_TAGS)) {
            out.write(new byte[] {1, 2, 3});
            out.commit();
        }
        store.putIfAbsent("orders/main/metadata/20260101T000000Z-ab12.json", "{}".getBytes());

        assertThat(client.getObjectTagging(b -> b.bucket(BUCKET).key("lifeboat/orders/main/20260101T000000Z-ab12"))
                .tagSet()).containsExactly(Tag.builder().key("lifeboat-kind").value("data").build());
        assertThat(client.getObjectTagging(b -> b.bucket(BUCKET)
                .key("lifeboat/orders/main/metadata/20260101T000000Z-ab12.json")).tagSet()).isEmpty();
        assertThat(store.list("orders/main/")).extracting(ObjectStore.ObjectInfo::storageClass)
                .containsOnly("STANDARD");
    }

    @Test
    void transitionsOutOfOrderOrTooEarlyAreRefused() {
        assertThatThrownBy(() -> new BucketLifecycle.Policy(7, 30, 0, 1)).hasMessageContaining("30 days");
        assertThatThrownBy(() -> new BucketLifecycle.Policy(90, 60, 0, 1)).hasMessageContaining("later");
        assertThat(new BucketLifecycle.Policy(0, 1, 0, 1).glacierAfterDays()).isEqualTo(1);
    }
}
