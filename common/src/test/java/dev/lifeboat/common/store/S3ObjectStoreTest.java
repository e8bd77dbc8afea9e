package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.store.ObjectStore.PendingObject;
import dev.lifeboat.common.testing.S3Server;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.nio.file.Path;
import java.nio.file.Files;
import java.net.URI;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.S3Object;

class S3ObjectStoreTest extends ObjectStoreContract {
    /**
     * Retries as in production, but quick. Without any, a test now and then meets a kept-alive connection the server
     * has just closed ("Error writing request body to server"), which the SDK used to retry unseen.
     */
    static final RetryPolicy QUICK = new RetryPolicy(new RetryPolicy.Settings(5, java.time.Duration.ofMillis(5),
            java.time.Duration.ofMillis(50), java.time.Duration.ofSeconds(30)), RetryPolicy.Listener.NONE);
    private static S3Server server;
    private static S3Client client;
    private String prefix;

    @BeforeAll
    static void startServer() {
        server = S3Server.start();
        client = client(S3Server.SECRET_KEY);
    }

    /** The client the store is built with in production, with these credentials. */
    static S3Client client(String secret) {
        return StoreProducer.s3Client(URI.create(server.endpoint()), Region.US_EAST_1, true,
                StaticCredentialsProvider.create(AwsBasicCredentials.create(S3Server.ACCESS_KEY, secret)));
    }

    @AfterAll
    static void stopServer() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    /** Each test gets its own prefix in the one bucket, so every store starts empty. */
    @Override
    protected ObjectStore newStore() {
        prefix = "pfx-" + UUID.randomUUID();
        return new RetryingObjectStore(new S3ObjectStore(client, S3Server.BUCKET, prefix, S3ObjectStore.MIN_PART_SIZE,
                QUICK), QUICK);
    }

    @Override
    protected void afterLargeObjectCommitted(String key) {
        HeadObjectResponse head = client.headObject(b -> b.bucket(S3Server.BUCKET).key(prefix + "/" + key));
        assertThat(head.contentLength()).isEqualTo(BIG);
        // a multipart ETag is "<md5 of part md5s>-<number of parts>": 12 MiB in 5 MiB parts is 5 + 5 + 2
        assertThat(head.eTag().replace("\"", "")).endsWith("-3");
    }

    @Test
    void keysAreStoredUnderThePrefix() throws IOException {
        store.putIfAbsent("db/a.sql", bytes("abc"));
        assertThat(client.listObjectsV2Paginator(ListObjectsV2Request.builder().bucket(S3Server.BUCKET)
                .prefix(prefix + "/").build()).contents()).extracting(S3Object::key).containsExactly(prefix + "/db/a.sql");
        assertThat(store.locate("db/a.sql")).isEqualTo("s3://" + S3Server.BUCKET + "/" + prefix + "/db/a.sql");
    }

    @Test
    void tagsAreNotSentUnlessAskedForAndObjectsListWithTheirStorageClass() throws IOException {
        // s3proxy refuses x-amz-tagging (501): tags go out only with withTags(true), i.e. a managed lifecycle
        try (PendingObject out = store.create("db/data", BucketLifecycle.DATA_TAGS)) {
            out.write(bytes("dump"));
            out.commit();
        }
        assertThat(store.list("db/")).containsExactly(new ObjectStore.ObjectInfo("db/data", 4, "STANDARD"));
        assertThat(store.stat("db/data")).contains(new ObjectStore.ObjectInfo("db/data", 4));
        assertThat(S3ObjectStore.tagging(Map.of("b", "x y", "a", "1&2"))).isEqualTo("a=1%262&b=x+y");
    }

    @Test
    void partSizeBelowFiveMiBIsRefused() {
        assertThatThrownBy(() -> new S3ObjectStore(client, S3Server.BUCKET, "p", S3ObjectStore.MIN_PART_SIZE - 1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void storeRefusingWritesMidwayFailsTheWriteAndLeavesNothingPending() throws IOException {
        byte[] content = random(BIG, 7);
        int firstPart = 6 * 1024 * 1024;
        PendingObject out = store.create("db/refused.bin");
        try {
            out.write(content, 0, firstPart); // the upload exists and its first 5 MiB part is stored
            assertThat(store.pending("")).containsExactly("db/refused.bin");
            System.setProperty(S3Server.REFUSE_WRITES, "true");
            assertThatThrownBy(() -> {
                out.write(content, firstPart, content.length - firstPart);
                out.commit();
            }).isInstanceOf(IOException.class);
        } finally {
            System.clearProperty(S3Server.REFUSE_WRITES);
            out.close();
        }
        assertThat(store.pending("")).isEmpty();
        assertThat(store.list("")).isEmpty();
        assertThat(store.stat("db/refused.bin")).isEmpty();
        // the failed object does not block a later backup under the same key
        store.putIfAbsent("db/refused.bin", bytes("retry"));
        assertThat(read("db/refused.bin")).isEqualTo(bytes("retry"));
    }

    @Test
    void storeRefusingTheFinalCommitFailsAndLeavesNothingPending() throws IOException {
        byte[] content = random(BIG, 8);
        PendingObject out = store.create("db/refused-late.bin");
        try {
            out.write(content); // two full parts uploaded, 2 MiB buffered
            assertThat(store.pending("")).containsExactly("db/refused-late.bin");
            System.setProperty(S3Server.REFUSE_WRITES, "true");
            assertThatThrownBy(out::commit).isInstanceOf(IOException.class);
        } finally {
            System.clearProperty(S3Server.REFUSE_WRITES);
            out.close();
        }
        assertThat(store.pending("")).isEmpty();
        assertThat(store.list("")).isEmpty();
    }

    @Test
    void listingsLongerThanOnePageAreComplete() throws IOException {
        ObjectStore paged = new S3ObjectStore(client, S3Server.BUCKET, prefix, PartSchedule.s3(S3ObjectStore.MIN_PART_SIZE),
                QUICK, 2);
        for (int i = 0; i < 7; i++) {
            paged.putIfAbsent("db/object-" + i, bytes("content " + i));
        }
        // the server honours the page size, so one request would not see them all
        assertThat(client.listObjectsV2(b -> b.bucket(S3Server.BUCKET).prefix(prefix + "/").maxKeys(2)).isTruncated()).isTrue();
        assertThat(paged.list("db/")).extracting(ObjectInfo::key).containsExactly("db/object-0", "db/object-1",
                "db/object-2", "db/object-3", "db/object-4", "db/object-5", "db/object-6");

        for (int i = 0; i < 5; i++) {
            String key = prefix + "/db/upload-" + (i % 3); // several uploads of one key, too: the upload-id marker
            client.createMultipartUpload(b -> b.bucket(S3Server.BUCKET).key(key));
        }
        assertThat(client.listMultipartUploads(b -> b.bucket(S3Server.BUCKET).prefix(prefix + "/").maxUploads(2))
                .isTruncated()).isTrue();
        assertThat(paged.pending("db/")).hasSize(5).containsOnly("db/upload-0", "db/upload-1", "db/upload-2");
        assertThat(paged.abortPending("db/", java.time.Instant.now().plusSeconds(60))).hasSize(5);
        assertThat(paged.pending("")).isEmpty();
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void aStreamLongerThanItsFirstPartsAllowCompletesBecausePartsGrow() throws Exception {
        // at most 8 parts, 5 MiB doubling every 2: 5+5+10+10+20+20+40+40 MiB; 60 MiB needs 6 parts
        ObjectStore growing = new S3ObjectStore(client, S3Server.BUCKET, prefix, new PartSchedule(S3ObjectStore.MIN_PART_SIZE, 8, 2),
                QUICK, S3ObjectStore.DEFAULT_PAGE_SIZE);
        long size = 60L * 1024 * 1024;
        String written;
        try (PendingObject out = growing.create("db/long.bin")) {
            written = writeRandom(out, size, 11);
            out.commit();
        }
        HeadObjectResponse head = client.headObject(b -> b.bucket(S3Server.BUCKET).key(prefix + "/db/long.bin"));
        assertThat(head.contentLength()).isEqualTo(size);
        assertThat(head.eTag().replace("\"", "")).endsWith("-6");
        assertThat(sha256(growing.open("db/long.bin"))).isEqualTo(written);
        assertThat(growing.pending("")).isEmpty();
    }

    @Test
    void aStreamBeyondTheLastPartFailsAndLeavesNothing() throws Exception {
        ObjectStore tiny = new S3ObjectStore(client, S3Server.BUCKET, prefix, new PartSchedule(S3ObjectStore.MIN_PART_SIZE, 2, 1),
                QUICK, S3ObjectStore.DEFAULT_PAGE_SIZE);
        PendingObject out = tiny.create("db/huge.bin");
        assertThatThrownBy(() -> writeRandom(out, 16L * 1024 * 1024, 12)) // holds 5 + 10 MiB
                .isInstanceOfSatisfying(StoreException.Failed.class, e -> assertThat(e.getMessage())
                        .contains("too large").contains("15728640 bytes").contains("2 parts"));
        out.close();
        assertThat(tiny.pending("")).isEmpty();
        assertThat(tiny.stat("db/huge.bin")).isEmpty();
    }

    @Test
    void wrongCredentialsAreAccessDeniedNamingTheRequestAndThePermission() throws IOException {
        store.putIfAbsent("db/a.sql", bytes("abc"));
        try (S3Client wrong = client("not-the-secret")) {
            ObjectStore denied = new S3ObjectStore(wrong, S3Server.BUCKET, prefix, S3ObjectStore.MIN_PART_SIZE, QUICK);
            assertThatThrownBy(() -> denied.open("db/a.sql")).isInstanceOfSatisfying(StoreException.AccessDenied.class, e -> {
                assertThat(e.operation()).isEqualTo(StoreOperation.OPEN);
                assertThat(e.key()).isEqualTo("db/a.sql");
                assertThat(e.getMessage()).startsWith("S3 access denied for GetObject of s3://" + S3Server.BUCKET + "/"
                        + prefix + "/db/a.sql: check the credentials").contains("s3:GetObject").contains("(403");
            });
            assertThatThrownBy(() -> denied.stat("db/a.sql")).isInstanceOf(StoreException.AccessDenied.class);
            assertThatThrownBy(() -> denied.list("db/")).isInstanceOfSatisfying(StoreException.AccessDenied.class,
                    e -> assertThat(e.getMessage()).contains("ListObjectsV2").contains("s3:ListBucket"));
            assertThatThrownBy(() -> denied.putIfAbsent("db/b.sql", bytes("x"))).isInstanceOf(StoreException.AccessDenied.class);
            assertThatThrownBy(denied::checkReachable).isInstanceOfSatisfying(StoreException.AccessDenied.class,
                    e -> assertThat(e.getMessage()).contains("HeadBucket"));
        }
    }

    @Test
    void aMissingBucketIsNotFoundNamingTheBucket() {
        ObjectStore nowhere = new S3ObjectStore(client, "no-such-bucket", prefix, S3ObjectStore.MIN_PART_SIZE, QUICK);
        assertThatThrownBy(nowhere::checkReachable).isInstanceOfSatisfying(StoreException.NotFound.class,
                e -> assertThat(e.getMessage()).contains("bucket no-such-bucket does not exist").contains("lifeboat.store.s3.bucket"));
        assertThatThrownBy(() -> nowhere.list("db/")).isInstanceOfSatisfying(StoreException.NotFound.class,
                e -> assertThat(e).isNotInstanceOf(ObjectStore.ObjectNotFoundException.class));
    }

    /** Writes {@code size} seeded random bytes in odd-sized writes; returns their SHA-256. */
    static String writeRandom(java.io.OutputStream out, long size, long seed) throws Exception {
        java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
        java.util.Random random = new java.util.Random(seed);
        byte[] chunk = new byte[777_777];
        for (long left = size; left > 0; ) {
            int n = (int) Math.min(chunk.length, left);
            random.nextBytes(chunk);
            out.write(chunk, 0, n);
            sha.update(chunk, 0, n);
            left -= n;
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    /** SHA-256 of what {@code in} holds; closes it. */
    static String sha256(java.io.InputStream in) throws Exception {
        java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
        try (in) {
            byte[] buffer = new byte[100_003];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                sha.update(buffer, 0, n);
            }
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    @Test
    void keysFromFilesAreReadAtEachRequestSoARotatedSecretNeedsNoRestart() throws IOException {
        Path dir = Files.createTempDirectory("lifeboat-s3-keys-");
        try {
            Path id = dir.resolve("access-key-id");
            Path secret = dir.resolve("secret-access-key");
            Files.writeString(id, S3Server.ACCESS_KEY + "\n");
            Files.writeString(secret, "not-the-secret\n");
            ObjectStore fromFiles = StoreProducer.s3Store(new KeyFiles(server.endpoint(), id, secret), QUICK);
            assertThatThrownBy(fromFiles::checkReachable).isInstanceOf(IOException.class);
            Files.writeString(secret, S3Server.SECRET_KEY + "\n"); // the Secret is rotated
            fromFiles.checkReachable();
            Files.delete(secret);
            assertThatThrownBy(fromFiles::checkReachable).hasMessageContaining("secret-access-key-file")
                    .hasMessageNotContaining(S3Server.ACCESS_KEY);
        } finally {
            TempDirs.delete(dir);
        }
    }

    @Test
    void anAccessKeyIdWithoutASecretIsRefused() {
        KeyFiles onlyId = new KeyFiles(server.endpoint(), Path.of("/nonexistent/id"), null);
        assertThatThrownBy(() -> StoreProducer.s3Store(onlyId, QUICK)).hasMessageContaining("give both");
    }

    /** {@code lifeboat.store.s3.*} with the keys in files, as the Helm chart configures it. */
    private record KeyFiles(String url, Path idFile, Path secretFile)
            implements StoreConfig.S3 {
        @Override public Optional<String> bucket() { return Optional.of(S3Server.BUCKET); }
        @Override public Optional<String> prefix() { return Optional.empty(); }
        @Override public Optional<String> endpoint() { return Optional.of(url); }
        @Override public String region() { return "us-east-1"; }
        @Override public boolean pathStyle() { return true; }
        @Override public Optional<String> accessKeyId() { return Optional.empty(); }
        @Override public Optional<String> secretAccessKey() { return Optional.empty(); }
        @Override public Optional<Path> accessKeyIdFile() { return Optional.ofNullable(idFile); }
        @Override public Optional<Path> secretAccessKeyFile() { return Optional.ofNullable(secretFile); }
        @Override public int partSize() { return S3ObjectStore.MIN_PART_SIZE; }
        @Override public StoreConfig.Lifecycle lifecycle() { return StoreConfigs.of(Map.of()).s3().lifecycle(); }
        @Override public StoreConfig.Archive archive() { return StoreConfigs.of(Map.of()).s3().archive(); }
    }
}
