package dev.lifeboat.common.store;

import static dev.lifeboat.common.store.S3ObjectStoreTest.sha256;
import static dev.lifeboat.common.store.S3ObjectStoreTest.writeRandom;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.store.ObjectStore.PendingObject;
import dev.lifeboat.common.testing.S3FaultProxy;
import dev.lifeboat.common.testing.S3FaultProxy.Call;
import dev.lifeboat.common.testing.S3FaultProxy.Rule;
import dev.lifeboat.common.testing.S3Server;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The S3 store as the services build it ({@link StoreProducer#create}: retry decorator, shared policy, metrics)
 * against the in-process S3 server behind {@link S3FaultProxy}: transient faults are retried and the objects come
 * out byte-identical, permanent ones fail at once, and the counters show what happened. Quick backoffs (10 to 50 ms),
 * at most 4 attempts.
 */
class S3StoreFaultsTest {
    static final int MiB = 1024 * 1024;
    private static S3Server server;
    private static S3FaultProxy proxy;
    private SimpleMeterRegistry registry;
    private ObjectStore store;
    private String prefix;

    @BeforeAll
    static void start() {
        server = S3Server.start();
        proxy = S3FaultProxy.start(server.endpoint());
    }

    @AfterAll
    static void stop() {
        proxy.close();
        server.close();
    }

    @BeforeEach
    void freshStore() {
        prefix = "faults-" + UUID.randomUUID();
        registry = new SimpleMeterRegistry();
        Map<String, String> properties = new HashMap<>(S3Server.storeProperties(proxy.endpoint()));
        properties.put("lifeboat.store.s3.prefix", prefix);
        properties.put("lifeboat.store.s3.part-size", Integer.toString(5 * MiB));
        properties.put("lifeboat.store.retry.max-attempts", "4");
        properties.put("lifeboat.store.retry.initial-backoff", "10ms");
        properties.put("lifeboat.store.retry.max-backoff", "50ms");
        store = StoreProducer.create(StoreConfigs.of(properties), registry);
        proxy.resetCounts();
    }

    @AfterEach
    void clearFaults() {
        proxy.clearRules();
    }

    private double retries(StoreOperation operation) {
        return registry.get("lifeboat.store.retries").tag("operation", operation.tag()).counter().count();
    }

    private double requests(StoreOperation operation, String outcome) {
        Counter c = registry.find("lifeboat.store.requests").tag("operation", operation.tag()).tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void transientFaultsOnPartsAndTheCommitStillStoreIdenticalBytes() throws Exception {
        Rule start = proxy.on(Call.CREATE_UPLOAD).respond(503, "SlowDown");
        Rule second = proxy.on(Call.UPLOAD_PART).skip(1).respond(500, "InternalError");
        Rule fourth = proxy.on(Call.UPLOAD_PART).skip(3).reset();
        Rule sixth = proxy.on(Call.UPLOAD_PART).skip(5).respondAfterForwarding(429, "TooManyRequests");
        // the server completes the upload, the client hears 500: the retry finds the upload gone or the key taken
        Rule complete = proxy.on(Call.COMPLETE_UPLOAD).respondAfterForwarding(500, "InternalError");

        String written;
        try (PendingObject out = store.create("db/big.bin")) {
            written = writeRandom(out, 17L * MiB, 1); // parts of 5, 5, 5 and 2 MiB
            out.commit();
        }

        assertThat(sha256(store.open("db/big.bin"))).isEqualTo(written);
        assertThat(store.stat("db/big.bin").orElseThrow().size()).isEqualTo(17L * MiB);
        assertThat(store.pending("")).isEmpty();
        for (Rule rule : new Rule[] {start, second, fourth, sixth, complete}) {
            assertThat(rule.fired()).as(rule.toString()).isEqualTo(1);
        }
        assertThat(proxy.requests(Call.UPLOAD_PART)).isEqualTo(7); // 4 parts, 3 of them twice
        assertThat(retries(StoreOperation.START_UPLOAD)).isEqualTo(1);
        assertThat(retries(StoreOperation.UPLOAD_PART)).isEqualTo(3);
        assertThat(retries(StoreOperation.COMMIT)).isEqualTo(1);
        assertThat(requests(StoreOperation.UPLOAD_PART, "transient")).isEqualTo(3);
        assertThat(requests(StoreOperation.UPLOAD_PART, "ok")).isEqualTo(4);
        assertThat(requests(StoreOperation.COMMIT, "ok")).isEqualTo(1);
    }

    @Test
    void aCommitWhoseEveryAnswerIsLostIsStillRecognisedAsStored() throws Exception {
        Rule lost = proxy.on(Call.COMPLETE_UPLOAD).always().respondAfterForwarding(503, "SlowDown");
        String written;
        try (PendingObject out = store.create("db/lost-answers.bin")) {
            written = writeRandom(out, 6L * MiB, 2);
            out.commit();
        }
        assertThat(lost.fired()).as("every attempt answered 503").isEqualTo(4);
        assertThat(sha256(store.open("db/lost-answers.bin"))).isEqualTo(written);
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void aRetriedCommitAnsweredNoSuchUploadOrPreconditionFailedLooksWhoseObjectIsThere() throws Exception {
        // what AWS may answer the retry of a completion that went through: the upload is gone, or the key is taken
        for (String answer : new String[] {"404 NoSuchUpload", "412 PreconditionFailed"}) {
            String key = "db/retried-" + answer.substring(0, 3) + ".bin";
            Rule lost = proxy.on(Call.COMPLETE_UPLOAD).key(key).respondAfterForwarding(500, "InternalError");
            Rule gone = proxy.on(Call.COMPLETE_UPLOAD).key(key).skip(1)
                    .respond(Integer.parseInt(answer.substring(0, 3)), answer.substring(4));
            String written;
            try (PendingObject out = store.create(key)) {
                written = writeRandom(out, 1000, 6);
                out.commit();
            }
            assertThat(new int[] {lost.fired(), gone.fired()}).as(answer).containsExactly(1, 1);
            assertThat(sha256(store.open(key))).isEqualTo(written);
        }
        // someone else's object under the key: taken, not ours
        store.putIfAbsent("db/other.bin", "theirs".getBytes());
        proxy.on(Call.HEAD_OBJECT).key("other\\.bin$").respond(404, "NoSuchKey"); // create() must not see it
        PendingObject mine = store.create("db/other.bin");
        proxy.clearRules();
        mine.write("mine".getBytes());
        proxy.on(Call.COMPLETE_UPLOAD).respond(412, "PreconditionFailed");
        assertThatThrownBy(mine::commit).isInstanceOf(ObjectStore.ObjectExistsException.class);
        mine.close();
        assertThat(store.open("db/other.bin").readAllBytes()).isEqualTo("theirs".getBytes());
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void anUploadGoneWithoutAnObjectIsAConflictAndNothingIsStored() throws Exception {
        Rule gone = proxy.on(Call.COMPLETE_UPLOAD).respond(404, "NoSuchUpload");
        PendingObject out = store.create("db/vanished.bin");
        out.write("content".getBytes());
        assertThatThrownBy(out::commit).isInstanceOfSatisfying(StoreException.Conflict.class, e -> assertThat(e.getMessage())
                .contains("multipart upload no longer exists").contains("nothing was stored").contains("404 NoSuchUpload"));
        out.close();
        assertThat(gone.fired()).isEqualTo(1);
        assertThat(store.stat("db/vanished.bin")).isEmpty();
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void aCommitThatNeverReachesTheServerFailsAsTransientAndStoresNothing() throws Exception {
        Rule refused = proxy.on(Call.COMPLETE_UPLOAD).always().respond(503, "SlowDown");
        PendingObject out = store.create("db/never.bin");
        writeRandom(out, 6L * MiB, 3);
        assertThatThrownBy(out::commit).isInstanceOfSatisfying(StoreException.Transient.class, e -> {
            assertThat(e.operation()).isEqualTo(StoreOperation.COMMIT);
            assertThat(e.key()).isEqualTo("db/never.bin");
            assertThat(e.getMessage()).contains("CompleteMultipartUpload").contains("503 SlowDown")
                    .contains("gave up after 4 attempts");
        });
        out.close();
        assertThat(refused.fired()).isEqualTo(4);
        assertThat(store.stat("db/never.bin")).isEmpty();
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void faultsOnEveryAttemptSurfaceAsTransientAfterBoundedAttemptsAndLeaveNothing() throws Exception {
        Rule broken = proxy.on(Call.UPLOAD_PART).always().reset();
        PendingObject out = store.create("db/unlucky.bin");
        assertThatThrownBy(() -> writeRandom(out, 6L * MiB, 4)) // the first part goes when the 6th MiB comes
                .isInstanceOfSatisfying(StoreException.Transient.class, e -> assertThat(e.getMessage())
                        .contains("UploadPart").contains("temporary connection error").contains("gave up after 4 attempts"));
        out.close();
        assertThat(broken.fired()).isEqualTo(4);
        assertThat(retries(StoreOperation.UPLOAD_PART)).isEqualTo(3);
        assertThat(requests(StoreOperation.UPLOAD_PART, "transient")).isEqualTo(4);
        assertThat(store.pending("")).isEmpty();
        assertThat(store.list("")).isEmpty();
    }

    @Test
    void accessDeniedFailsAtOnceNamingTheRequestAndLeavesNothing() throws Exception {
        Rule denied = proxy.on(Call.UPLOAD_PART).always().respond(403, "AccessDenied");
        PendingObject out = store.create("db/denied.bin");
        out.write(new byte[1000]);
        assertThatThrownBy(out::commit).isInstanceOfSatisfying(StoreException.AccessDenied.class, e -> {
            assertThat(e.operation()).isEqualTo(StoreOperation.UPLOAD_PART);
            assertThat(e.key()).isEqualTo("db/denied.bin");
            assertThat(e.getMessage()).isEqualTo("S3 access denied for UploadPart of s3://" + S3Server.BUCKET + "/"
                    + prefix + "/db/denied.bin: check the credentials (lifeboat.store.s3.access-key-id and "
                    + "secret-access-key, or the pod's IAM role) and that the bucket policy allows s3:PutObject "
                    + "(403 AccessDenied)");
        });
        out.close();
        assertThat(denied.fired()).as("one request, no retry").isEqualTo(1);
        assertThat(proxy.requests(Call.UPLOAD_PART)).isEqualTo(1);
        assertThat(retries(StoreOperation.UPLOAD_PART)).isZero();
        assertThat(requests(StoreOperation.UPLOAD_PART, "access_denied")).isEqualTo(1);
        assertThat(store.pending("")).isEmpty();
        assertThat(store.list("")).isEmpty();
    }

    @Test
    void aReadBrokenMidBodyResumesFromTheByteReachedAndReturnsIdenticalBytes() throws Exception {
        String written;
        try (PendingObject out = store.create("db/read.bin")) {
            written = writeRandom(out, 12L * MiB, 5);
            out.commit();
        }
        Rule reset = proxy.on(Call.GET_OBJECT).key("read\\.bin$").resetMidBody(MiB);
        Rule cut = proxy.on(Call.GET_OBJECT).key("read\\.bin$").skip(1).closeMidBody(3 * MiB);
        assertThat(sha256(store.open("db/read.bin"))).isEqualTo(written);
        assertThat(reset.fired()).isEqualTo(1);
        assertThat(cut.fired()).isEqualTo(1);
        assertThat(proxy.requests(Call.GET_OBJECT)).isEqualTo(3); // the GET, then two ranged GETs
        assertThat(retries(StoreOperation.RESUME)).isEqualTo(2);
        assertThat(requests(StoreOperation.RESUME, "transient")).isEqualTo(2);
        assertThat(requests(StoreOperation.RESUME, "ok")).isEqualTo(2);
    }

    @Test
    void aReadThatBreaksWithoutProgressGivesUpAfterBoundedAttempts() throws Exception {
        store.putIfAbsent("db/small.bin", new byte[100_000]);
        Rule reset = proxy.on(Call.GET_OBJECT).always().resetMidBody(0);
        assertThatThrownBy(() -> sha256(store.open("db/small.bin"))).isInstanceOfSatisfying(StoreException.Transient.class,
                e -> assertThat(e.getMessage()).contains("at byte 0 of 100000").contains("gave up after 4 attempts"));
        assertThat(reset.fired()).isEqualTo(4);
    }

    @Test
    void anOpenFailingBeforeTheFirstByteIsRetried() throws Exception {
        store.putIfAbsent("db/busy.bin", "content".getBytes());
        Rule busy = proxy.on(Call.GET_OBJECT).times(2).respond(503, "SlowDown");
        try (var in = store.open("db/busy.bin")) {
            assertThat(in.readAllBytes()).isEqualTo("content".getBytes());
        }
        assertThat(busy.fired()).isEqualTo(2);
        assertThat(retries(StoreOperation.OPEN)).isEqualTo(2);
    }

    @Test
    void anArchivedObjectFailsAtOnceSayingHowToGetItBack() throws Exception {
        store.putIfAbsent("db/cold.bin", "content".getBytes());
        Rule archived = proxy.on(Call.GET_OBJECT).always().respond(403, "InvalidObjectState");
        assertThatThrownBy(() -> store.open("db/cold.bin")).isInstanceOfSatisfying(StoreException.Archived.class, e -> {
            assertThat(e.operation()).isEqualTo(StoreOperation.OPEN);
            assertThat(e.getMessage()).contains("is archived").contains("restore").contains("403 InvalidObjectState");
        });
        assertThat(archived.fired()).isEqualTo(1);
        assertThat(requests(StoreOperation.OPEN, "archived")).isEqualTo(1);
    }

    @Test
    void listingsAndDeletesAreRetriedButReadinessIsAskedOnce() throws Exception {
        store.putIfAbsent("db/a", "a".getBytes());
        Rule list = proxy.on(Call.LIST_OBJECTS).respond(500, "InternalError");
        Rule delete = proxy.on(Call.DELETE_OBJECT).reset();
        Rule ready = proxy.on(Call.HEAD_BUCKET).respond(503, "SlowDown");
        assertThat(store.list("db/")).extracting(ObjectStore.ObjectInfo::key).containsExactly("db/a");
        store.delete("db/a");
        assertThat(store.stat("db/a")).isEmpty();
        assertThatThrownBy(store::checkReachable).isInstanceOf(StoreException.Transient.class);
        assertThat(new int[] {list.fired(), delete.fired(), ready.fired()}).containsExactly(1, 1, 1);
        assertThat(retries(StoreOperation.LIST)).isEqualTo(1);
        assertThat(retries(StoreOperation.CHECK_REACHABLE)).isZero();
        store.checkReachable();
    }
}
