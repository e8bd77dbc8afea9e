package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.store.ObjectStore.PendingObject;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.TempDirs;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.S3Object;

class S3ObjectStoreTest extends ObjectStoreContract {
    private static S3Server server;
    private static S3Client client;
    private String prefix;

    @BeforeAll
    static void startServer() {
        server = S3Server.start();
        client = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .endpointOverride(URI.create(server.endpoint()))
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3Server.ACCESS_KEY, S3Server.SECRET_KEY)))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
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
        return new S3ObjectStore(client, S3Server.BUCKET, prefix, S3ObjectStore.MIN_PART_SIZE);
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
    void keysFromFilesAreReadAtEachRequestSoARotatedSecretNeedsNoRestart() throws IOException {
        Path dir = Files.createTempDirectory("lifeboat-s3-keys-");
        try {
            Path id = dir.resolve("access-key-id");
            Path secret = dir.resolve("secret-access-key");
            Files.writeString(id, S3Server.ACCESS_KEY + "\n");
            Files.writeString(secret, "not-the-secret\n");
            ObjectStore fromFiles = StoreProducer.s3Store(new KeyFiles(server.endpoint(), id, secret));
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
        assertThatThrownBy(() -> StoreProducer.s3Store(onlyId)).hasMessageContaining("give both");
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
    }
}
