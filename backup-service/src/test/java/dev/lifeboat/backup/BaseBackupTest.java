package dev.lifeboat.backup;

import static dev.lifeboat.backup.BackupTestSupport.identityFile;
import static dev.lifeboat.backup.BackupTestSupport.postgres;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.BackupCatalog.PitrCheck;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.AgeKeyResource;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Resource;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Base backups for point-in-time recovery, against real PostgreSQL 15 servers ({@link PitrServersResource}) and a
 * real S3-protocol server: the prerequisites check names what a server lacks; a base backup is streamed through
 * zstd + age into {@code base/}, its metadata holds the WAL range, timeline and system identifier, and the stored
 * object opens with the {@code age} and {@code zstd} command-line tools into a tar whose backup_label matches the
 * metadata; bad requests are refused; logical backups go on beside base backups and never see them.
 */
@QuarkusTest
@WithTestResource(PitrServersResource.class)
@WithTestResource(S3Resource.class)
@WithTestResource(AgeKeyResource.class)
@WithTestResource(TokenResource.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BaseBackupTest {
    private static final Duration LONG = Duration.ofSeconds(120);

    @Inject
    ObjectStore store;

    @Inject
    BackupCatalog catalog;

    @BeforeEach
    void asOperator() {
        BackupTestSupport.useToken(TokenResource.OPERATOR);
    }

    private static Response post(String body, boolean wait) {
        return given().contentType("application/json").body(body).post("/api/v1/backups" + (wait ? "?wait=true" : ""));
    }

    @Test
    @Order(1)
    void prerequisitesCheckNamesEachMissingSettingAndRefusesTheBaseBackup() throws Exception {
        // recorded at start-up for each database with PITR enabled
        PitrCheck atStart = Poll.value("the start-up PITR check of 'minimal'", LONG,
                () -> catalog.pitrCheck("minimal").orElse(null));
        assertThat(atStart.available()).isFalse();

        String detail = post("{\"database\": \"minimal\", \"kind\": \"base\"}", false).then().statusCode(409)
                .contentType(containsString("problem+json")).body("type", containsString("pitr-unavailable"))
                .extract().path("detail");
        assertThat(detail).startsWith("PITR unavailable: ").contains("wal_level is minimal", "max_wal_senders is 0",
                "the PITR role '" + PitrServersResource.NO_REPLICATION + "' lacks REPLICATION",
                "a replication connection as '" + PitrServersResource.NO_REPLICATION + "' fails");
        assertThat(detail).doesNotContain("lacks LOGIN", "max_replication_slots", "tablespaces", "at dev.lifeboat");

        PitrCheck recorded = catalog.pitrCheck("minimal").orElseThrow();
        assertThat(recorded.message()).isEqualTo(detail);
        assertThat(recorded.reasons()).hasSize(4);
        assertThat(recorded.warnings()).singleElement().asString().contains("max_slot_wal_keep_size is not set");
        assertThat(store.list("database/minimal/base/")).isEmpty();

        PitrCheck ready = Poll.value("the PITR check of 'main'", LONG, () -> catalog.pitrCheck("main").orElse(null));
        assertThat(ready.available()).as("%s", ready).isTrue();
        assertThat(ready.reasons()).isEmpty();
        assertThat(ready.message()).isNull();
        assertThat(ready.warnings()).singleElement().asString().contains("max_slot_wal_keep_size");
        assertThat(catalog.pitrCheck("plain")).as("no check for a database without PITR").isEmpty();
    }

    @Test
    @Order(2)
    void apiRefusesAnUnknownKindAndABaseBackupOfADatabaseWithoutPitr() {
        post("{\"database\": \"main\", \"kind\": \"incremental\"}", false).then().statusCode(400)
                .contentType(containsString("problem+json"))
                .body("detail", containsString("\"kind\" is \"logical\""));
        post("{\"database\": \"plain\", \"kind\": \"base\"}", false).then().statusCode(409)
                .body("type", containsString("pitr-unavailable"))
                .body("detail", containsString("lifeboat.databases.plain.pitr.enabled=false"));
        post("{\"database\": \"main\", \"kind\": \"base\", \"trigger\": \"PRE_RESTORE\"}", false).then().statusCode(400);
    }

    @Test
    @Order(3)
    void baseBackupIsStoredEncryptedWithItsWalRangeAndOpensWithTheCommandLineTools() throws Exception {
        PostgresServer pg = postgres();
        pg.psql("app", "CREATE TABLE IF NOT EXISTS t(id int PRIMARY KEY, v text);"
                + "INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g ON CONFLICT DO NOTHING");
        String systemId = pg.psql("postgres", "SELECT system_identifier FROM pg_control_system()");

        long t0 = System.nanoTime();
        Response created = post("{\"database\": \"main\", \"kind\": \"base\"}", true);
        double seconds = (System.nanoTime() - t0) / 1e9;
        created.then().statusCode(201).body("kind", equalTo("BASE")).body("status", equalTo("COMPLETED"))
                .body("base.walArchivedThrough", equalTo(null));
        assertThat(created.jsonPath().getMap("base")).containsKey("walArchivedThrough");
        BaseBackupMetadata m = Json.read(Json.write(created.jsonPath().getMap("base")), BaseBackupMetadata.class);
        System.out.printf("BASE BACKUP TIMING: %.2f s wall (API), %.2f s in the job, %d bytes tar, %d stored%n",
                seconds, m.durationSeconds(), m.rawSizeBytes(), m.storedSizeBytes());

        assertThat(m.id()).startsWith("main_base_").endsWith(".tar.zst.age");
        assertThat(m.key()).isEqualTo("database/main/base/" + m.id());
        assertThat(m.systemIdentifier()).isEqualTo(systemId);
        assertThat(m.timeline()).isEqualTo(1);
        assertThat(m.startLsn()).matches("[0-9A-F]+/[0-9A-F]+");
        assertThat(lsn(m.endLsn())).isGreaterThan(lsn(m.startLsn()));
        assertThat(lsn(m.checkpointLsn())).isGreaterThanOrEqualTo(lsn(m.startLsn()));
        assertThat(m.serverVersion()).isEqualTo(pg.version());
        assertThat(m.manifestChecksum()).matches("[0-9a-f]{64}");
        assertThat(m.rawSizeBytes()).isGreaterThan(2_000_000);
        BaseBackupMetadata read = catalog.findBase(m.id()).orElseThrow();
        assertThat(read.sha256()).isEqualTo(m.sha256());
        assertThat(read.endLsn()).isEqualTo(m.endLsn());
        assertThat(read.walArchivedThrough()).isNull();
        given().get("/api/v1/backups/" + m.id()).then().statusCode(200).body("base.endLsn", equalTo(m.endLsn()));

        // the stored bytes are what the metadata says, and open with age and zstd into the tar pg_basebackup wrote
        Path dir = Files.createTempDirectory("lifeboat-base-");
        try {
            Path stored = dir.resolve("stored");
            try (InputStream in = store.open(m.key())) {
                Files.copy(in, stored);
            }
            assertThat(Files.size(stored)).isEqualTo(m.storedSizeBytes());
            assertThat(sha256(Files.readAllBytes(stored))).isEqualTo(m.sha256());
            Path tar = dir.resolve("base.tar");
            // the stock tools, one after the other (argument arrays, no shell): age, then zstd
            Path compressed = dir.resolve("base.tar.zst");
            PostgresServer.run(List.of("age", "-d", "-i", identityFile().toString(), "-o", compressed.toString(),
                    stored.toString()), Map.of(), null);
            PostgresServer.run(List.of("zstd", "-d", "-q", "-o", tar.toString(), compressed.toString()), Map.of(), null);
            assertThat(Files.size(tar)).isEqualTo(m.rawSizeBytes());
            String listing = new String(PostgresServer.run(List.of("tar", "-tf", tar.toString()), Map.of(), null),
                    StandardCharsets.UTF_8);
            assertThat(listing.lines()).contains("backup_label", "backup_manifest", "PG_VERSION", "global/pg_control");
            Path out = Files.createDirectory(dir.resolve("out"));
            PostgresServer.run(List.of("tar", "-xf", tar.toString(), "-C", out.toString(), "backup_label",
                    "backup_manifest"), Map.of(), null);
            String label = Files.readString(out.resolve("backup_label"));
            assertThat(label).contains("START WAL LOCATION: " + m.startLsn() + " ",
                    "CHECKPOINT LOCATION: " + m.checkpointLsn(), "START TIMELINE: 1", "LABEL: lifeboat " + m.id());
            byte[] manifest = Files.readAllBytes(out.resolve("backup_manifest"));
            assertThat(sha256(manifest)).isEqualTo(m.manifestSha256());
            assertThat(new String(manifest, StandardCharsets.UTF_8)).contains("\"End-LSN\": \"" + m.endLsn() + "\"",
                    "\"Manifest-Checksum\": \"" + m.manifestChecksum() + "\"");
        } finally {
            TempDirs.delete(dir);
        }

        // listed as a base backup only: never among the logical ones retention and verification work on
        assertThat(catalog.list("main")).extracting(BackupMetadata::id).doesNotContain(m.id());
        assertThat(catalog.listBase("main")).extracting(BaseBackupMetadata::id).containsExactly(m.id());
        given().get("/api/v1/backups?database=main&kind=base").then().statusCode(200)
                .body("id", org.hamcrest.Matchers.hasItem(m.id()));
        given().get("/api/v1/backups?database=main").then().statusCode(200)
                .body("id", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasItem(m.id())));
    }

    @Test
    @Order(4)
    void logicalBackupRunsBesideABaseBackupOfTheSameDatabase() throws Exception {
        Response base = post("{\"database\": \"main\", \"kind\": \"base\"}", false);
        base.then().statusCode(202);
        String baseId = base.jsonPath().getString("id");
        Response logical = post("{\"database\": \"main\"}", true);
        logical.then().statusCode(201).body("kind", equalTo("LOGICAL"));
        String logicalId = logical.jsonPath().getString("id");
        String state = Poll.value("base backup " + baseId + " ends", LONG, () -> {
            String s = given().get("/api/v1/backups/" + baseId).jsonPath().getString("status");
            return "COMPLETED".equals(s) || "FAILED".equals(s) ? s : null;
        });
        assertThat(state).isEqualTo("COMPLETED");
        assertThat(catalog.list("main")).extracting(BackupMetadata::id).contains(logicalId).doesNotContain(baseId);
        assertThat(catalog.listBase("main")).extracting(BaseBackupMetadata::id).contains(baseId)
                .doesNotContain(logicalId);
    }

    private static long lsn(String lsn) {
        String[] parts = lsn.split("/");
        return (Long.parseLong(parts[0], 16) << 32) | Long.parseLong(parts[1], 16);
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
