package dev.lifeboat.backup;

import static dev.lifeboat.backup.BackupTestSupport.backupAndWait;
import static dev.lifeboat.backup.BackupTestSupport.metadataOf;
import static dev.lifeboat.backup.BackupTestSupport.postgres;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.backup.schedule.BackupSchedulerAccess;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.TableFingerprint;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.AgeKeyResource;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.common.testing.FilesystemStoreResource;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Backups of a database with hard content into the filesystem store, zstd + age: the stored object reads back
 * through common's codecs and through the stock tools to a database identical to the source.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@WithTestResource(FilesystemStoreResource.class)
@WithTestResource(AgeKeyResource.class)
@WithTestResource(TokenResource.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BackupRoundTripFilesystemTest {

    @org.junit.jupiter.api.BeforeEach
    void asOperator() {
        BackupTestSupport.useToken(TokenResource.OPERATOR);
    }


    @Inject
    ObjectStore store;

    @Inject
    BackupSchedulerAccess scheduler;

    @TestHTTPResource(value = "metrics", management = true)
    URL metrics;

    @TestHTTPResource(value = "health/ready", management = true)
    URL ready;

    @TestHTTPResource(value = "openapi", management = true)
    URL openapi;

    @Test
    @Order(1)
    void backupOfHardContentRestoresToIdenticalDatabase() throws Exception {
        PostgresServer pg = postgres();
        pg.psql("app", BackupTestSupport.fixture("hard-content.sql"));

        Response created = backupAndWait();
        created.then().statusCode(201).header("Location", org.hamcrest.Matchers.endsWith(created.jsonPath().getString("id")));
        BackupMetadata m = metadataOf(created);
        assertThat(m.id()).matches("main_backup_\\d{8}_\\d{6}\\.sql\\.zst\\.age");
        assertThat(m.schemaVersion()).isEqualTo(1);
        assertThat(m.trigger()).isEqualTo(Trigger.MANUAL);
        assertThat(m.encryptionRecipients()).hasSize(1).allMatch(r -> r.startsWith("age1"));
        assertThat(m.serverVersion()).startsWith("15.");
        assertThat(m.pgDumpVersion()).contains("15.");
        assertThat(m.storedSizeBytes()).isEqualTo(Files.size(Path.of(store.locate(m.key()))));

        ByteArrayOutputStream dump = new ByteArrayOutputStream();
        String sha = BackupTestSupport.readBack(store, m, dump);
        assertThat(sha).isEqualTo(m.sha256());
        assertThat((long) dump.size()).isEqualTo(m.rawSizeBytes());

        pg.createDatabase("copy_common");
        pg.load("copy_common", new ByteArrayInputStream(dump.toByteArray()));
        assertThat(pg.pgDump("copy_common")).isEqualTo(pg.pgDump("app"));

        // fingerprint: one entry per table with data, counts equal count(*)
        assertThat(m.fingerprint()).extracting(TableFingerprint::table).contains("public.people",
                "billing.\"Invoice Lines\"", "\"Odd Schema\".\"Tab.le with spaces\"", "public.measurements_2024",
                "public.empty_table");
        for (TableFingerprint t : m.fingerprint()) {
            assertThat(Long.parseLong(pg.psql("app", "SELECT count(*) FROM ONLY " + t.table())))
                    .as(t.table()).isEqualTo(t.rows());
        }
    }

    @Test
    @Order(2)
    void storedObjectRestoresWithStockAgeZstdAndPsql() throws Exception {
        PostgresServer pg = postgres();
        BackupMetadata m = metadataOf(given().get("/api/v1/backups/latest").then().statusCode(200).extract().response());
        Path work = Files.createTempDirectory("stock-tools");
        Path zst = work.resolve("dump.sql.zst");
        Path sql = work.resolve("dump.sql");
        PostgresServer.run(List.of("age", "-d", "-i", BackupTestSupport.identityFile().toString(), "-o", zst.toString(),
                store.locate(m.key())), Map.of(), null);
        PostgresServer.run(List.of("zstd", "-q", "-d", zst.toString(), "-o", sql.toString()), Map.of(), null);
        pg.createDatabase("copy_stock");
        PostgresServer.run(List.of(pg.bin().resolve("psql").toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-d", "copy_stock", "-f", sql.toString()), pg.env(), null);
        assertThat(pg.pgDump("copy_stock")).isEqualTo(pg.pgDump("app"));
        dev.lifeboat.common.testing.TempDirs.delete(work);
    }

    @Test
    @Order(3)
    void listLatestAndGetAgreeNewestFirst() throws Exception {
        // back to back, often within one second: the ids then get _2, _3 and must still order by sequence
        backupAndWait().then().statusCode(201);
        Response second = backupAndWait();
        second.then().statusCode(201);
        String newest = second.jsonPath().getString("id");
        List<String> ids = given().get("/api/v1/backups").then().statusCode(200).extract().jsonPath().getList("id");
        assertThat(ids).hasSizeGreaterThanOrEqualTo(2).first().isEqualTo(newest);
        given().get("/api/v1/backups/latest?database=main").then().statusCode(200).body("id", equalTo(newest));
        given().get("/api/v1/backups/" + newest).then().statusCode(200)
                .body("status", equalTo("COMPLETED"))
                .body("metadata.sha256", equalTo(second.jsonPath().getString("metadata.sha256")));
        // metadata is the commit marker and lives beside the data
        assertThat(store.stat("database/main/metadata/" + newest + ".json")).isPresent();
    }

    @Test
    @Order(4)
    void scheduledRunBacksUpEveryDatabaseWithTriggerScheduledOncePerInstant() {
        java.time.Instant instant = scheduler.runNow();
        io.restassured.path.json.JsonPath all = given().get("/api/v1/backups").then().extract().jsonPath();
        assertThat(all.getString("[0].trigger")).isEqualTo("SCHEDULED");
        assertThat(all.getString("[0].metadata.labels.'lifeboat.dev/scheduled-for'")).isEqualTo(instant.toString());
        given().get("/api/v1/backups/latest").then().statusCode(200).body("id", equalTo(all.getString("[0].id")));
        int count = all.getList("id").size();
        scheduler.runFor(instant); // the same instant again, as another replica would: its claim is taken
        assertThat(given().get("/api/v1/backups").then().extract().jsonPath().getList("id")).hasSize(count);
    }

    @Test
    @Order(5)
    void metricsHealthAndOpenApiAreOnTheManagementPort() throws Exception {
        String text = new String(metrics.openStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(text).containsPattern("lifeboat_backups_total\\{database=\"main\",result=\"success\"\\} [3-9]");
        assertThat(text).containsPattern("lifeboat_backup_last_success_timestamp_seconds\\{database=\"main\"\\} 1\\.[0-9]+E9");
        assertThat(text).containsPattern("lifeboat_backup_last_size_bytes\\{database=\"main\"\\} [1-9]");
        assertThat(text).contains("lifeboat_backup_duration_seconds_count{database=\"main\",result=\"success\"}");
        assertThat(new String(ready.openStream().readAllBytes(), StandardCharsets.UTF_8))
                .contains("\"status\": \"UP\"").contains("object-store");
        assertThat(new String(openapi.openStream().readAllBytes(), StandardCharsets.UTF_8)).contains("/api/v1/backups");
        given().get("/q/metrics").then().statusCode(404);
    }
}
