package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.testing.S3FaultProxy;
import dev.lifeboat.common.testing.S3Server;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The S3 archive retrieval over the wire, against the real server behind {@link S3FaultProxy}'s simulation of AWS's
 * archive behaviour (see {@link S3FaultProxy.ArchiveSimulation}): an archived object refuses GETs as
 * {@link StoreException.Archived}, the wait issues one RestoreObject, follows HEAD's {@code x-amz-restore} through
 * the states, and the object then reads back whole.
 */
class S3ArchiveRetrievalTest {
    private static S3Server server;
    private static S3FaultProxy proxy;
    private static S3Client client;

    @BeforeAll
    static void start() {
        server = S3Server.start();
        proxy = S3FaultProxy.start(server.endpoint());
        client = StoreProducer.s3Client(URI.create(proxy.endpoint()), Region.US_EAST_1, true,
                StaticCredentialsProvider.create(AwsBasicCredentials.create(S3Server.ACCESS_KEY, S3Server.SECRET_KEY)));
    }

    @AfterAll
    static void stop() {
        client.close();
        proxy.close();
        server.close();
    }

    @Test
    void anArchivedObjectIsRestoredThenReadWhole() throws IOException {
        S3ObjectStore store = new S3ObjectStore(client, S3Server.BUCKET, "archive-test", S3ObjectStore.MIN_PART_SIZE)
                .withArchive(new S3ArchiveRetrieval.Settings("Bulk", 2));
        byte[] content = "archived backup bytes".getBytes();
        store.putIfAbsent("db/main/b1", content);
        S3FaultProxy.ArchiveSimulation glacier = proxy.archive("/db/main/b1$", "GLACIER", 3);
        try {
            assertThat(store.stat("db/main/b1")).hasValueSatisfying(i -> assertThat(i.storageClass()).isEqualTo("GLACIER"));
            assertThatThrownBy(() -> store.open("db/main/b1")).isInstanceOf(StoreException.Archived.class)
                    .hasMessageContaining("is archived");
            assertThat(glacier.refusedGets()).isEqualTo(1);

            ArchiveWait wait = new ArchiveWait(store.archive(), Duration.ofMillis(10), Duration.ofMinutes(1),
                    Clock.systemUTC());
            assertThat(wait.state("db/main/b1")).isEqualTo(ArchiveState.ARCHIVED);
            List<ArchiveState> told = new ArrayList<>();
            assertThat(wait.awaitReadable("db/main/b1", (s, seen, expected) -> told.add(s)))
                    .isEqualTo(ArchiveState.READABLE);
            assertThat(told).containsExactly(ArchiveState.RESTORE_REQUESTED, ArchiveState.IN_PROGRESS,
                    ArchiveState.READABLE);
            assertThat(glacier.restoreRequests()).isEqualTo(1);
            // asking again once restored is answered 200, and not an error
            store.archive().request("db/main/b1");
            try (InputStream in = store.open("db/main/b1")) {
                assertThat(in.readAllBytes()).isEqualTo(content);
            }
            ArchiveRetrieval.Observation seen = store.archive().observe("db/main/b1");
            assertThat(seen.ongoing()).isFalse();
            assertThat(seen.expiry()).isAfter(java.time.Instant.now());

            glacier.expire();
            assertThat(wait.state("db/main/b1")).isEqualTo(ArchiveState.ARCHIVED);
            assertThatThrownBy(() -> store.open("db/main/b1")).isInstanceOf(StoreException.Archived.class);
        } finally {
            proxy.clearRules();
        }
    }

    @Test
    void aSecondRequestWhileTheRestoreRunsIsNotAnError() throws IOException {
        S3ObjectStore store = new S3ObjectStore(client, S3Server.BUCKET, "archive-test", S3ObjectStore.MIN_PART_SIZE);
        store.putIfAbsent("db/main/b2", new byte[] {1});
        S3FaultProxy.ArchiveSimulation deep = proxy.archive("/db/main/b2$", "DEEP_ARCHIVE", 5);
        try {
            store.archive().request("db/main/b2");
            store.archive().request("db/main/b2"); // 409 RestoreAlreadyInProgress
            assertThat(deep.restoreRequests()).isEqualTo(2);
            assertThat(store.archive().observe("db/main/b2"))
                    .isEqualTo(new ArchiveRetrieval.Observation("DEEP_ARCHIVE", true, true, null));
        } finally {
            proxy.clearRules();
        }
    }
}
