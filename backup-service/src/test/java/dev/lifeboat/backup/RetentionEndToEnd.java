package dev.lifeboat.backup;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.backup.retention.RetentionScheduler;
import dev.lifeboat.backup.service.Janitor;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import dev.lifeboat.common.testing.TokenResource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Retention, DELETE and PATCH end to end, run against each store by its subclasses: a year of daily backups of
 * {@code main} written through the store with crafted, signed metadata (plus verification records, roles objects and
 * a label sidecar), and five backups of {@code other}, whose policy is off. Plan, apply, and check that exactly the
 * planned objects are gone; a clock behind the newest backup is refused; DELETE's 409s and force; an interrupted
 * delete is cleaned by the janitor.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class RetentionEndToEnd {

    /** Retention on for {@code main} (7 daily, 4 weekly, 12 monthly), off for {@code other}; signed records. */
    public static class Policy implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            try {
                Path key = Files.createTempFile("lifeboat-integrity-", ".key");
                key.toFile().deleteOnExit(); // the service reads it at start-up; it goes with the test JVM
                Files.writeString(key, "test-key=" + "0123456789abcdef".repeat(4) + "\n");
                return Map.ofEntries(
                        Map.entry("lifeboat.store.integrity-key-file", key.toString()),
                        Map.entry("lifeboat.databases.main.port", "1"),
                        Map.entry("lifeboat.databases.other.port", "1"),
                        Map.entry("lifeboat.retention.enabled", "true"),
                        Map.entry("lifeboat.retention.daily", "7"),
                        Map.entry("lifeboat.retention.weekly", "4"),
                        Map.entry("lifeboat.retention.monthly", "12"),
                        Map.entry("lifeboat.retention.schedule", "off"),
                        Map.entry("lifeboat.databases.main.retention.schedule", "0 0 4 1 1 ?"),
                        Map.entry("lifeboat.databases.other.retention.enabled", "false"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Inject
    ObjectStore store;

    @Inject
    BackupCatalog catalog;

    @Inject
    Janitor janitor;

    @Inject
    MeterRegistry meters;

    @Inject
    RetentionScheduler retentionScheduler;

    @Inject
    io.quarkus.scheduler.Scheduler scheduler;

    /** The crafted history, newest first: ids of main's backups (static: JUnit makes an instance per test). */
    static final List<String> MAIN = new ArrayList<>();
    static String verifiedId;
    static String labelledId;
    static Set<String> otherKeys;

    @BeforeEach
    void asOperator() {
        BackupTestSupport.useToken(TokenResource.OPERATOR);
    }

    /** A request as the viewer client only (no operator token in the default specification). */
    static io.restassured.specification.RequestSpecification viewer() {
        io.restassured.RestAssured.requestSpecification = null;
        io.restassured.specification.RequestSpecification request = given()
                .header("Authorization", "Bearer " + TokenResource.VIEWER);
        BackupTestSupport.useToken(TokenResource.OPERATOR);
        return request;
    }

    /** A backup written as backup-service writes one: a data object, then the signed metadata (the commit). */
    String craft(String label, Instant started, Trigger trigger, Map<String, String> labels) throws IOException {
        String id = BackupIds.fileName(label, started, 1, ".sql.zst");
        byte[] data = ("backup " + id).getBytes(StandardCharsets.UTF_8);
        store.putIfAbsent(catalog.dataKey(label, id), data);
        catalog.commit(new BackupMetadata(BackupMetadata.SCHEMA_VERSION, id, label, label, catalog.dataKey(label, id),
                "17.0", "17.0", "UTF8", DumpFormat.PLAIN, Compression.ZSTD, List.of(), trigger, labels, started,
                started.plusSeconds(300), 300, 1000, data.length, "00", List.of(), null, null, null));
        return id;
    }

    void verification(String label, String backupId, VerificationRecord.Level level, VerificationRecord.Result result,
                      Instant at) throws IOException {
        String vid = "v-" + backupId.hashCode() + "-" + at.getEpochSecond();
        catalog.recordVerification(new VerificationRecord(VerificationRecord.SCHEMA_VERSION, vid, backupId, label, level,
                VerificationRecord.Trigger.SWEEP, result, at, at.plusSeconds(60), 60, null, null, null, null, null,
                null, null, List.of()), 10);
    }

    Set<String> keys() throws IOException {
        return store.list("").stream().map(ObjectInfo::key).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    @Order(1)
    void aYearOfBackups() throws Exception {
        MAIN.clear(); // shared by the subclasses, which run one after the other
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        for (int daysAgo = 1; daysAgo <= 365; daysAgo++) {
            Instant started = today.minusDays(daysAgo).atTime(2, 0).toInstant(ZoneOffset.UTC);
            MAIN.add(craft("main", started, Trigger.SCHEDULED, Map.of()));
        }
        // an old backup proven restorable, one whose full verification failed, roles objects beside a few
        verifiedId = MAIN.get(99);
        verification("main", verifiedId, VerificationRecord.Level.FULL, VerificationRecord.Result.PASSED,
                Instant.now().minus(Duration.ofDays(90)));
        verification("main", MAIN.get(0), VerificationRecord.Level.CHECKSUM, VerificationRecord.Result.PASSED,
                Instant.now().minus(Duration.ofHours(12)));
        verification("main", MAIN.get(150), VerificationRecord.Level.CHECKSUM, VerificationRecord.Result.PASSED,
                Instant.now().minus(Duration.ofDays(150)));
        for (int i : new int[] {0, 150, 151}) {
            store.putIfAbsent(catalog.rolesKey("main", MAIN.get(i)), "CREATE ROLE app;".getBytes(StandardCharsets.UTF_8));
        }
        for (int daysAgo = 400; daysAgo < 405; daysAgo++) {
            craft("other", Instant.now().minus(Duration.ofDays(daysAgo)).truncatedTo(ChronoUnit.SECONDS),
                    Trigger.SCHEDULED, Map.of());
        }
        otherKeys = keys().stream().filter(k -> k.contains("/other/")).collect(Collectors.toSet());
        assertThat(otherKeys).hasSize(10);

        // keep=true set after the fact, through the API: a signed sidecar, the metadata unchanged
        labelledId = MAIN.get(200);
        String metadataBefore = read(catalog.metadataKey("main", labelledId));
        given().contentType("application/json").body("{\"labels\": {\"keep\": \"true\", \"why\": \"audit 2025\"}}")
                .patch("/api/v1/backups/" + labelledId).then().statusCode(200)
                .body("metadata.labels.keep", equalTo("true"));
        assertThat(read(catalog.metadataKey("main", labelledId))).isEqualTo(metadataBefore);
        String sidecar = keys().stream().filter(k -> k.contains("/labels/" + labelledId + "/")).findFirst().orElseThrow();
        assertThat(read(sidecar)).contains("\"keep\"", "\"hmacSha256\"");
        given().get("/api/v1/backups/" + labelledId).then().statusCode(200)
                .body("metadata.labels.why", equalTo("audit 2025"));
        viewer().contentType("application/json").body("{\"labels\": {\"keep\": \"false\"}}")
                .patch("/api/v1/backups/" + labelledId).then().statusCode(403);
    }

    String read(String key) throws IOException {
        try (InputStream in = store.open(key)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    @Order(2)
    void thePlanKeepsSevenDaysFourWeeksTwelveMonthsTheVerifiedAndTheLabelled() {
        JsonPath plan = viewer().get("/api/v1/retention/plan?database=main").then().statusCode(200).extract().jsonPath();
        assertThat(plan.getString("[0].database")).isEqualTo("main");
        List<Map<String, Object>> backups = plan.getList("[0].backups");
        assertThat(backups).hasSize(365);
        assertThat(backups.stream().map(b -> b.get("id")).toList()).isEqualTo(MAIN);
        assertThat(count(backups, "DAILY")).isEqualTo(7);
        assertThat(count(backups, "WEEKLY")).isEqualTo(4);
        assertThat(count(backups, "MONTHLY")).isEqualTo(12);
        assertThat(entry(backups, MAIN.get(0)).get("reasons")).asList().contains("NEWEST_GOOD", "DAILY");
        assertThat(entry(backups, verifiedId).get("reason")).isEqualTo("NEWEST_VERIFIED");
        assertThat(entry(backups, labelledId).get("reason")).isEqualTo("KEEP_LABEL");
        assertThat(entry(backups, MAIN.get(364)).get("decision")).isEqualTo("DELETE");
        assertThat(entry(backups, MAIN.get(364)).get("reason")).isEqualTo("NOT_RETAINED");
        assertThat(plan.getInt("[0].keep") + plan.getInt("[0].delete")).isEqualTo(365);
        JsonPath other = viewer().get("/api/v1/retention/plan?database=other").then().statusCode(200).extract().jsonPath();
        assertThat(other.getList("[0].backups.reason", String.class)).hasSize(5).containsOnly("POLICY_DISABLED");
        // the schedule: main's own cron, none for other (policy off) and none from the global "off"
        assertThat(retentionScheduler.scheduled()).containsOnlyKeys("main");
        assertThat(scheduler.getScheduledJob("retention-main").getNextFireTime()).isAfter(Instant.now());
    }

    private static long count(List<Map<String, Object>> backups, String reason) {
        return backups.stream().filter(b -> ((List<?>) b.get("reasons")).contains(reason)).count();
    }

    private static Map<String, Object> entry(List<Map<String, Object>> backups, String id) {
        return backups.stream().filter(b -> id.equals(b.get("id"))).findFirst().orElseThrow();
    }

    @Test
    @Order(3)
    void applyDeletesExactlyThePlannedObjects() throws Exception {
        Set<String> before = keys();
        viewer().post("/api/v1/retention/apply?database=main").then().statusCode(403);
        assertThat(keys()).isEqualTo(before);
        JsonPath applied = given().post("/api/v1/retention/apply?database=main").then().statusCode(200).extract().jsonPath();
        List<String> deleted = applied.getList("[0].backups.findAll { it.decision == 'DELETE' }.id", String.class);
        List<String> kept = applied.getList("[0].backups.findAll { it.decision == 'KEEP' }.id", String.class);
        assertThat(deleted).hasSize(365 - kept.size()).isNotEmpty();
        Set<String> expected = new TreeSet<>(before);
        for (String id : deleted) {
            Set<String> objects = before.stream().filter(k -> k.contains("/" + id)).collect(Collectors.toSet());
            assertThat(objects).contains(catalog.metadataKey("main", id), catalog.dataKey("main", id));
            expected.removeAll(objects);
        }
        assertThat(keys()).isEqualTo(expected);
        // the verification record and roles object of a deleted backup went with it
        assertThat(deleted).contains(MAIN.get(150));
        assertThat(before).anyMatch(k -> k.contains("/verifications/" + MAIN.get(150) + "/"));
        assertThat(keys()).noneMatch(k -> k.contains(MAIN.get(150)));
        assertThat(keys()).containsAll(otherKeys);
        assertThat(given().get("/api/v1/backups?database=main").then().statusCode(200).extract().jsonPath()
                .getList("id", String.class)).containsExactlyElementsOf(kept);
        Counter counter = meters.find("lifeboat.retention.deleted").tag("database", "main").tag("reason", "NOT_RETAINED")
                .counter();
        assertThat(counter).isNotNull();
        assertThat(counter.count()).isEqualTo(deleted.size());
        // a second run finds nothing more to delete
        given().post("/api/v1/retention/apply?database=main").then().statusCode(200).body("[0].delete", equalTo(0));
        assertThat(keys()).isEqualTo(expected);
        MAIN.retainAll(kept);

        // the scheduled run applies the same plan, as "schedule": an old backup outside every bucket goes
        String stray = craft("main", Instant.now().minus(Duration.ofDays(600)).truncatedTo(ChronoUnit.SECONDS),
                Trigger.MANUAL, Map.of());
        retentionScheduler.run("main");
        assertThat(keys()).isEqualTo(expected);
        assertThat(counter.count()).isEqualTo(deleted.size() + 1);
        assertThat(stray).isNotIn(MAIN);
    }

    @Test
    @Order(4)
    void aClockBehindTheNewestBackupIsRefused() throws Exception {
        // a backup recorded as finishing an hour from now: to this service's clock, time went backwards
        String future = craft("main", Instant.now().plus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS),
                Trigger.MANUAL, Map.of());
        Set<String> before = keys();
        given().get("/api/v1/retention/plan?database=main").then().statusCode(409)
                .contentType("application/problem+json").body("type", endsWith("clock-behind"))
                .body("detail", containsString("Nothing was deleted"));
        given().post("/api/v1/retention/apply?database=main").then().statusCode(409)
                .body("type", endsWith("clock-behind"));
        assertThat(keys()).isEqualTo(before);
        // it is the newest good backup: DELETE refuses it without force
        given().delete("/api/v1/backups/" + future).then().statusCode(409).contentType("application/problem+json")
                .body("type", endsWith("backup-protected")).body("detail", containsString("NEWEST_GOOD"));
        given().delete("/api/v1/backups/" + future + "?force=true").then().statusCode(204);
        assertThat(keys()).noneMatch(k -> k.contains(future));
        given().get("/api/v1/retention/plan?database=main").then().statusCode(200);
    }

    @Test
    @Order(5)
    void deleteRefusesProtectedBackupsUnlessForced() throws Exception {
        String newest = MAIN.get(0);
        given().delete("/api/v1/backups/" + newest).then().statusCode(409).body("type", endsWith("backup-protected"));
        given().delete("/api/v1/backups/" + verifiedId).then().statusCode(409)
                .body("detail", containsString("NEWEST_VERIFIED"));
        given().delete("/api/v1/backups/" + labelledId).then().statusCode(409).body("detail", containsString("KEEP_LABEL"));
        given().delete("/api/v1/backups/main_backup_19990101_000000.sql.zst").then().statusCode(404)
                .contentType("application/problem+json");
        given().delete("/api/v1/backups/..%2Fetc").then().statusCode(400);
        viewer().delete("/api/v1/backups/" + MAIN.get(3)).then().statusCode(403);

        // an ordinary one goes at once, and leaves every listing
        String plain = MAIN.get(3);
        given().delete("/api/v1/backups/" + plain).then().statusCode(204);
        given().get("/api/v1/backups/" + plain).then().statusCode(404);
        assertThat(keys()).noneMatch(k -> k.contains(plain));

        // the label removed again (null), it can be deleted; its sidecar goes with it
        given().contentType("application/json").body("{\"labels\": {\"keep\": null}}")
                .patch("/api/v1/backups/" + labelledId).then().statusCode(200)
                .body("metadata.labels.keep", org.hamcrest.Matchers.nullValue())
                .body("metadata.labels.why", equalTo("audit 2025"));
        given().delete("/api/v1/backups/" + labelledId).then().statusCode(204);
        assertThat(keys()).noneMatch(k -> k.contains(labelledId));

        // a keep label given at creation is honoured the same way
        String created = craft("main", Instant.now().minus(Duration.ofDays(500)).truncatedTo(ChronoUnit.SECONDS),
                Trigger.MANUAL, Map.of("keep", "true"));
        given().delete("/api/v1/backups/" + created).then().statusCode(409).body("detail", containsString("KEEP_LABEL"));
        given().get("/api/v1/retention/plan?database=main").then().statusCode(200)
                .body("[0].backups.find { it.id == '" + created + "' }.reason", equalTo("KEEP_LABEL"));
        given().delete("/api/v1/backups/" + created + "?force=true").then().statusCode(204);

        // forced: the newest verified one, with its record
        given().delete("/api/v1/backups/" + verifiedId + "?force=true").then().statusCode(204);
        assertThat(keys()).noneMatch(k -> k.contains(verifiedId));
        assertThat(keys()).containsAll(otherKeys);
    }

    @Test
    @Order(6)
    void anUntrustedBackupIsKeptByPolicyAndDeletedOnRequest() throws Exception {
        String id = BackupIds.fileName("main", Instant.now().minus(Duration.ofDays(700)).truncatedTo(ChronoUnit.SECONDS), 1,
                ".sql.zst");
        store.putIfAbsent(catalog.dataKey("main", id), new byte[] {1});
        BackupMetadata planted = new BackupMetadata(1, id, "main", "main", catalog.dataKey("main", id), "17", "17", null,
                DumpFormat.PLAIN, Compression.ZSTD, List.of(), Trigger.SCHEDULED, Map.of(), Instant.now().minus(Duration.ofDays(700)),
                Instant.now().minus(Duration.ofDays(700)), 1, 1, 1, "00", List.of(), null, null, null);
        store.putIfAbsent(catalog.metadataKey("main", id), Json.write(planted)); // unsigned
        given().get("/api/v1/retention/plan?database=main").then().statusCode(200)
                .body("[0].backups.find { it.id == '" + id + "' }.decision", equalTo("KEEP"))
                .body("[0].backups.find { it.id == '" + id + "' }.reason", equalTo("UNTRUSTED"));
        given().post("/api/v1/retention/apply?database=main").then().statusCode(200);
        assertThat(keys()).contains(catalog.metadataKey("main", id));
        given().delete("/api/v1/backups/" + id).then().statusCode(204);
        assertThat(keys()).noneMatch(k -> k.contains(id));
    }

    @Test
    @Order(7)
    void theJanitorFinishesAnInterruptedDelete() throws Exception {
        String victim = MAIN.get(MAIN.size() - 1);
        verification("main", victim, VerificationRecord.Level.CHECKSUM, VerificationRecord.Result.PASSED,
                Instant.now().minus(Duration.ofDays(1)));
        store.putIfAbsent(catalog.rolesKey("main", victim), new byte[] {1});
        catalog.setLabels("main", victim, Map.of("note", "x"));
        // a delete that stopped after its first step: the metadata is gone, data, record, roles and labels are left
        store.delete(catalog.metadataKey("main", victim));
        Set<String> left = keys().stream().filter(k -> k.contains(victim)).collect(Collectors.toSet());
        assertThat(left).hasSize(4);
        Set<String> before = keys();
        List<String> removed = janitor.clean();
        assertThat(new HashSet<>(removed)).isEqualTo(left);
        Set<String> expected = new TreeSet<>(before);
        expected.removeAll(left);
        assertThat(keys()).isEqualTo(expected);
        assertThat(janitor.clean()).isEmpty();
    }

    @Inject
    dev.lifeboat.common.catalog.WalArchive walArchive;

    @Test
    @Order(8)
    void baseBackupsFollowThePolicyAndWalIsKeptExactlyFromTheOldestRetainedBaseBackup() throws Exception {
        // 15 base backups, one every 6 days, each starting 2 segments after the previous; every segment archived
        long seg = dev.lifeboat.common.wal.WalNames.DEFAULT_SEGMENT_SIZE;
        Instant newest = Instant.now().minus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS);
        List<String> bases = new ArrayList<>(); // oldest first
        dev.lifeboat.common.pipeline.Codec codec = dev.lifeboat.common.pipeline.Codec.forWriting(Compression.ZSTD, 1, 0,
                List.of());
        byte[] zeros = new byte[(int) seg];
        for (int i = 0; i < 15; i++) {
            Instant finished = newest.minus(Duration.ofDays(6L * (14 - i)));
            String id = BackupIds.baseFileName("main", finished.minusSeconds(60), 1, ".tar.zst");
            long start = (3 + 2L * i) * seg + 0x28;
            store.putIfAbsent(catalog.baseDataKey("main", id), new byte[] {1});
            catalog.commitBase(new dev.lifeboat.common.model.BaseBackupMetadata(1, id, "main",
                    catalog.baseDataKey("main", id), "15.10", "15.10", "7300", 1,
                    dev.lifeboat.common.wal.WalNames.lsn(start), dev.lifeboat.common.wal.WalNames.lsn(start),
                    dev.lifeboat.common.wal.WalNames.lsn(start + 0x110), "m", "c", Compression.ZSTD, List.of(),
                    Trigger.SCHEDULED, Map.of(), finished.minusSeconds(60), finished, 60, 1, 1, "s", null));
            bases.add(id);
            for (long n = 3 + 2L * i; n < 5 + 2L * i; n++) {
                walArchive.put("main", dev.lifeboat.common.model.WalObject.Kind.SEGMENT,
                        dev.lifeboat.common.wal.WalNames.segmentName(1, n, seg), new java.io.ByteArrayInputStream(zeros),
                        codec, false, null, finished.plus(Duration.ofHours(n % 2 == 1 ? 1 : 2)), "7300");
            }
        }
        walArchive.put("main", dev.lifeboat.common.model.WalObject.Kind.HISTORY, "00000002.history",
                new java.io.ByteArrayInputStream("1\t0/2000000\tno recovery target specified\n".getBytes()), codec,
                false, null, null, "7300");

        JsonPath plan = given().get("/api/v1/retention/plan?database=main").then().statusCode(200).extract().jsonPath();
        List<String> kept = plan.getList("[0].baseBackups.findAll { it.decision == 'KEEP' }.id", String.class);
        List<String> deleted = plan.getList("[0].baseBackups.findAll { it.decision == 'DELETE' }.id", String.class);
        assertThat(kept).hasSizeGreaterThanOrEqualTo(7).contains(bases.get(14));
        assertThat(deleted).isNotEmpty().doesNotContain(bases.get(14));
        assertThat(plan.getList("[0].baseBackups.find { it.id == '" + bases.get(14) + "' }.reasons", String.class))
                .contains("NEWEST_GOOD", "NEWEST_VERIFIED");
        int oldestKept = kept.stream().mapToInt(bases::indexOf).min().orElseThrow();
        String keepFrom = dev.lifeboat.common.wal.WalNames.segmentName(1, 3 + 2L * oldestKept, seg);
        assertThat(plan.getString("[0].wal.keepFrom")).isEqualTo(keepFrom);
        assertThat(plan.getInt("[0].wal.deleteFiles")).isEqualTo(2 * oldestKept);

        given().post("/api/v1/retention/apply?database=main").then().statusCode(200);
        assertThat(catalog.listBase("main")).extracting(dev.lifeboat.common.model.BaseBackupMetadata::id)
                .containsExactlyInAnyOrderElementsOf(kept);
        for (String id : deleted) {
            assertThat(store.stat(catalog.baseDataKey("main", id))).as(id).isEmpty();
        }
        List<dev.lifeboat.common.model.WalObject> wal = walArchive.list("main");
        assertThat(wal).filteredOn(o -> o.kind() == dev.lifeboat.common.model.WalObject.Kind.SEGMENT)
                .extracting(dev.lifeboat.common.model.WalObject::name)
                .as("exactly the segments from the oldest kept base backup's start on")
                .containsExactlyElementsOf(java.util.stream.LongStream.range(3 + 2L * oldestKept, 33)
                        .mapToObj(n -> dev.lifeboat.common.wal.WalNames.segmentName(1, n, seg)).toList());
        assertThat(wal).extracting(dev.lifeboat.common.model.WalObject::name).contains("00000002.history");
        // no orphan data object of a deleted WAL file is left behind
        assertThat(keys()).filteredOn(k -> k.contains("/wal/")).allMatch(k -> wal.stream().anyMatch(o -> k.startsWith(o.key())));
        assertThat(dev.lifeboat.common.wal.RecoveryWindow.of(catalog.listBase("main"), wal).chains())
                .as("every kept base backup still restorable").allMatch(c -> c.recoverable());

        // DELETE: the newest restorable base backup only with force; the oldest kept one takes its WAL with it
        given().delete("/api/v1/backups/" + bases.get(14)).then().statusCode(409)
                .body("detail", containsString("restorable with the archived WAL"));
        String next = kept.stream().filter(id -> bases.indexOf(id) > oldestKept).min(java.util.Comparator.comparing(bases::indexOf))
                .orElseThrow();
        given().delete("/api/v1/backups/" + bases.get(oldestKept)).then().statusCode(204);
        assertThat(walArchive.list("main")).filteredOn(o -> o.kind() == dev.lifeboat.common.model.WalObject.Kind.SEGMENT)
                .first().extracting(dev.lifeboat.common.model.WalObject::name)
                .isEqualTo(dev.lifeboat.common.wal.WalNames.segmentName(1, 3 + 2L * bases.indexOf(next), seg));
        given().delete("/api/v1/backups/" + bases.get(oldestKept)).then().statusCode(404);

        // the newest base backup's point-in-time drill failed: the one before it is the newest restorable now, and
        // the failed one goes without force, its drill's record with it
        Instant failedAt = Instant.now();
        catalog.recordVerification(new dev.lifeboat.common.model.VerificationRecord(1, "verify_20261202_120000_d1",
                bases.get(14), "main", dev.lifeboat.common.model.VerificationRecord.Level.FULL,
                dev.lifeboat.common.model.VerificationRecord.Trigger.NEW_BACKUP,
                dev.lifeboat.common.model.VerificationRecord.Result.FAILED, failedAt, failedAt, 1,
                dev.lifeboat.common.model.VerificationRecord.StepName.CHECKSUM, null, "a WAL segment fails its SHA-256",
                null, null, null, null, List.of()), 5);
        JsonPath after = given().get("/api/v1/retention/plan?database=main").then().statusCode(200).extract().jsonPath();
        assertThat(after.getList("[0].baseBackups.find { it.id == '" + bases.get(14) + "' }.reasons", String.class))
                .doesNotContain("NEWEST_VERIFIED", "NEWEST_GOOD");
        assertThat(after.getList("[0].baseBackups.find { it.id == '" + bases.get(13) + "' }.reasons", String.class))
                .contains("NEWEST_VERIFIED");
        given().delete("/api/v1/backups/" + bases.get(14)).then().statusCode(204);
        assertThat(keys()).noneMatch(k -> k.contains("/verifications/" + bases.get(14)));
    }
}
