package dev.lifeboat.backup;

import static dev.lifeboat.backup.BackupTestSupport.backupAndWait;
import static dev.lifeboat.backup.BackupTestSupport.metadataOf;
import static dev.lifeboat.backup.BackupTestSupport.postgres;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.S3ObjectStore;
import dev.lifeboat.common.testing.AgeKeyResource;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.common.testing.PostgresResource;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Resource;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.TempDirs;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Backups into a real S3-protocol server, gzip + age, large enough to span several multipart parts; a store that
 * refuses writes midway fails the backup and leaves no object, no metadata and no pending upload.
 */
@QuarkusTest
@TestProfile(BackupRoundTripS3Test.Gzip.class)
@WithTestResource(PostgresResource.class)
@WithTestResource(S3Resource.class)
@WithTestResource(AgeKeyResource.class)
@WithTestResource(TokenResource.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BackupRoundTripS3Test {

    @org.junit.jupiter.api.BeforeEach
    void asOperator() {
        BackupTestSupport.useToken(TokenResource.OPERATOR);
    }


    /** gzip instead of the default zstd, for the seeds' .sql.gz compatibility. */
    public static class Gzip implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("lifeboat.backup.compression", "gzip",
                    "lifeboat.backup.schedule", "0 30 3 * * ?", "lifeboat.backup.timezone", "Asia/Almaty");
        }
    }

    @Inject
    ObjectStore store;

    @Inject
    io.quarkus.scheduler.Scheduler scheduler;

    @Test
    @Order(0)
    void scheduleFollowsTheConfiguredCronAndTimeZone() {
        java.time.Instant next = scheduler.getScheduledJob("scheduled-backups").getNextFireTime();
        java.time.ZonedDateTime local = next.atZone(java.time.ZoneId.of("Asia/Almaty"));
        assertThat(local.getHour()).isEqualTo(3);
        assertThat(local.getMinute()).isEqualTo(30);
        assertThat(next).isAfter(java.time.Instant.now()).isBefore(java.time.Instant.now().plus(java.time.Duration.ofDays(1)));
    }

    @Test
    @Order(1)
    void multipartBackupToS3RestoresToIdenticalDatabase() throws Exception {
        PostgresServer pg = postgres();
        pg.psql("app", BackupTestSupport.fixture("hard-content.sql"));
        pg.psql("app", "CREATE TABLE noise (id int, a text, b text); INSERT INTO noise "
                + "SELECT g, md5(random()::text) || md5(random()::text), md5(random()::text) FROM generate_series(1, 350000) g");

        Response created = backupAndWait();
        created.then().statusCode(201);
        BackupMetadata m = metadataOf(created);
        assertThat(store.locate(m.key())).startsWith("s3://" + S3Server.BUCKET + "/backups/database/main/");
        assertThat(m.id()).endsWith(".sql.gz.age");
        assertThat(m.compression()).isEqualTo(Compression.GZIP);
        assertThat(m.storedSizeBytes()).as("spans at least 4 parts of 5 MiB").isGreaterThan(3L * S3ObjectStore.MIN_PART_SIZE);
        assertThat(store.stat(m.key()).orElseThrow().size()).isEqualTo(m.storedSizeBytes());

        ByteArrayOutputStream dump = new ByteArrayOutputStream();
        assertThat(BackupTestSupport.readBack(store, m, dump)).isEqualTo(m.sha256());
        pg.createDatabase("copy_s3");
        pg.load("copy_s3", new ByteArrayInputStream(dump.toByteArray()));
        assertThat(pg.pgDump("copy_s3")).isEqualTo(pg.pgDump("app"));
    }

    @Test
    @Order(2)
    void storedObjectRestoresWithStockAgeGzipAndPsql() throws Exception {
        PostgresServer pg = postgres();
        BackupMetadata m = metadataOf(given().get("/api/v1/backups/latest").then().statusCode(200).extract().response());
        Path work = Files.createTempDirectory("stock-tools");
        Path encrypted = work.resolve(m.id());
        try (InputStream in = store.open(m.key())) {
            Files.copy(in, encrypted);
        }
        Path gz = work.resolve("dump.sql.gz");
        PostgresServer.run(List.of("age", "-d", "-i", BackupTestSupport.identityFile().toString(), "-o", gz.toString(),
                encrypted.toString()), Map.of(), null);
        PostgresServer.run(List.of("gzip", "-d", gz.toString()), Map.of(), null);
        pg.createDatabase("copy_s3_stock");
        PostgresServer.run(List.of(pg.bin().resolve("psql").toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-d", "copy_s3_stock", "-f", work.resolve("dump.sql").toString()), pg.env(), null);
        assertThat(pg.pgDump("copy_s3_stock")).isEqualTo(pg.pgDump("app"));
        TempDirs.delete(work);
    }

    @Test
    @Order(3)
    void storeRefusingWritesFailsTheBackupAndLeavesNothing() throws Exception {
        BackupMetadata earlier = metadataOf(given().get("/api/v1/backups/latest").then().statusCode(200).extract().response());
        List<ObjectStore.ObjectInfo> before = store.list("");
        System.setProperty(S3Server.REFUSE_WRITES, "true");
        Response failed;
        try {
            failed = backupAndWait();
        } finally {
            System.clearProperty(S3Server.REFUSE_WRITES);
        }
        failed.then().statusCode(500).contentType("application/problem+json").body("detail", containsString("S3"));
        assertThat(store.list("")).isEqualTo(before);
        assertThat(store.pending("")).as("no pending multipart upload").isEmpty();
        given().get("/api/v1/backups/latest").then().statusCode(200).body("id", equalTo(earlier.id()));
        assertThat(BackupTestSupport.readBack(store, earlier, java.io.OutputStream.nullOutputStream()))
                .isEqualTo(earlier.sha256());
    }

    @Test
    @Order(4)
    void storageShowsBytesPerStorageClassTheirCostAndWhyTheLifecycleRulesCannotBeRead() throws Exception {
        long stored = store.list("database/main/").stream().mapToLong(ObjectStore.ObjectInfo::size).sum();
        assertThat(stored).isPositive();
        BackupTestSupport.useToken(TokenResource.VIEWER);
        Response r = given().get("/api/v1/storage").then().statusCode(200).extract().response();
        assertThat(r.jsonPath().getLong("databases.find { it.database == 'main' }.bytes")).isEqualTo(stored);
        assertThat(r.jsonPath().getLong("databases.find { it.database == 'main' }.bytesByStorageClass.STANDARD"))
                .isEqualTo(stored);
        assertThat(r.jsonPath().getDouble("databases.find { it.database == 'main' }.estimatedMonthlyCostUsd"))
                .isCloseTo(stored / (1024.0 * 1024 * 1024) * 0.023, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(r.jsonPath().getDouble("pricesPerGbMonth.GLACIER")).isEqualTo(0.004);
        // s3proxy answers 501 to lifecycle calls: said, not hidden
        assertThat(r.jsonPath().getBoolean("lifecycle.managed")).isFalse();
        assertThat(r.jsonPath().getString("lifecycle.error")).contains("GetBucketLifecycleConfiguration");
        assertThat(r.jsonPath().getString("store")).isEqualTo("s3://" + S3Server.BUCKET + "/backups/");
        given().auth().none().get("/api/v1/storage").then().statusCode(401);
    }
}
