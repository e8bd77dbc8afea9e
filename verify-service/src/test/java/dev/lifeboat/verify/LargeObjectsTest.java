package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.ForgedBackups;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Large objects end to end (issue 10), against the {@code lo} database of {@link VerifyStack} (objects of two owners,
 * one shared by two rows, an empty one, one above 10 MB): backed up with their fingerprint, proven by a full
 * verification, restored in place in both modes exactly as they were, and into VerifyStack's fresh server (none of
 * the roles, roles create-missing: the objects' owner is created NOLOGIN) exactly so too; and a restore that fails
 * after the dump's
 * large-object section (a failing statement, a damaged end of the stored object, a SHA-256 that does not match)
 * leaves the target as it was, large objects included. pg_dump wraps large-object data in its own BEGIN/COMMIT:
 * passed to the server, that COMMIT would have committed the half-done restore.
 */
@QuarkusTest
@QuarkusTestResource(VerifyStack.class)
class LargeObjectsTest {
    private static final String DB = "lodb";
    /** Each large object's oid, owner and an MD5 of its data, read independently of Lifeboat. */
    private static final String OBJECTS = "SELECT string_agg(oid || ' ' || pg_get_userbyid(lomowner) || ' ' "
            + "|| length(lo_get(oid)) || ' ' || md5(lo_get(oid)), E'\\n' ORDER BY oid) FROM pg_largeobject_metadata";

    @Inject
    ObjectStore store;

    @Inject
    BackupCatalog catalog;

    /** The target as pg_dump sees it (SHA-256 of the dump, large objects' data included) and its large objects. */
    record Snapshot(String dumpSha256, int dumpLength, String objects) {
    }

    private static Snapshot snapshot() throws Exception {
        return snapshot(pg(), DB);
    }

    private static Snapshot snapshot(PostgresServer server, String database) throws Exception {
        String dump = server.pgDump(database);
        assertThat(dump).contains("SELECT pg_catalog.lo_open('40004'");
        return new Snapshot(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(dump.getBytes(StandardCharsets.UTF_8))), dump.length(), server.psql(database, OBJECTS));
    }

    /** Rows and large objects changed, added and removed; {@code tag} makes each round's changes its own. */
    private static void change(String tag) {
        pg().psql(DB, "UPDATE docs SET title = 'changed " + tag + "' WHERE id = 1;"
                + "INSERT INTO docs SELECT max(id) + 1, 'new', lo_from_bytea(0, convert_to('new object " + tag
                + "', 'UTF8')) FROM docs;"
                + "SELECT lo_put(40004, 5000000, convert_to('overwritten " + tag + "', 'UTF8'));"
                + "DELETE FROM docs WHERE id = 4; SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = 40003;"
                + "ALTER LARGE OBJECT 40002 OWNER TO lo_owner;");
    }

    @Test
    void largeObjectsAreFingerprintedVerifiedAndRestoredInPlaceExactly() throws Exception {
        String id = VerificationTest.backup("lo");
        Snapshot atBackup = snapshot();
        BackupMetadata m = catalog.get(id);
        String[] counted = pg().psql(DB, "SELECT count(*) || ' ' || sum(length(lo_get(oid))) FROM pg_largeobject_metadata")
                .split(" ");
        assertThat(m.largeObjects()).isNotNull();
        // four in the fixture, more if another case of this class ran first and added some
        assertThat(m.largeObjects().count()).isEqualTo(Long.parseLong(counted[0])).isGreaterThanOrEqualTo(4);
        assertThat(m.largeObjects().bytes()).isEqualTo(Long.parseLong(counted[1])).isGreaterThan(10L << 20);
        assertThat(m.largeObjects().hash()).matches("[0-9a-f]{32}");

        Response verification = VerificationTest.verify(id, "full");
        verification.then().statusCode(201).body("result", equalTo("PASSED"));
        assertThat(verification.jsonPath().getString("steps.find { it.name == 'FINGERPRINT' }.detail"))
                .contains(m.largeObjects().count() + " large objects (" + m.largeObjects().bytes() + " bytes)");
        VerificationTest.assertNoScratchDatabaseLeft();

        for (String mode : List.of("clean-schema", "recreate-database")) {
            change(mode);
            assertThat(snapshot()).as("changed before the %s restore", mode).isNotEqualTo(atBackup);
            restore(id, mode).then().statusCode(201).body("status", equalTo("COMPLETED")).body("mode", equalTo(mode));
            assertThat(snapshot()).as("after the %s restore", mode).isEqualTo(atBackup);
        }

        // into a server without the roles: every object's oid, owner, length and MD5 as at backup time
        VerifyStack.FreshRestore fresh = VerifyStack.restoreIntoFresh(id);
        try {
            assertThat(snapshot(VerifyStack.fresh(), fresh.database())).as("restored into the fresh server")
                    .isEqualTo(atBackup);
            assertThat(atBackup.objects()).contains(" lo_owner ");
            fresh.assertRolesCreatedNologin("lo_owner");
        } finally {
            fresh.drop();
        }
    }

    @Test
    void aStatementFailingAfterTheLargeObjectSectionLeavesTheTargetAsItWas() throws Exception {
        BackupMetadata m = catalog.get(VerificationTest.backup("lo"));
        byte[] broken = afterLargeObjects(m, "SELECT 1/0;\n");
        String id = forged().forge(m, "lo_backup_20200101_000001.sql.zst.age",
                ForgedBackups.encode(broken, List.of(VerifyStack.recipient())), true, broken.length);
        try {
            assertRestoreFailsAndChangesNothing(id, "division by zero");
        } finally {
            forged().remove("lo", id);
        }
    }

    @Test
    void damageFoundOnlyAtTheEndOfTheObjectLeavesTheTargetAsItWas() throws Exception {
        BackupMetadata m = catalog.get(VerificationTest.backup("lo"));
        // a megabyte of statements after the section (random: it stays large compressed): psql has run the section's
        // COMMIT, were it passed on, long before the end of the object is read
        StringBuilder padding = new StringBuilder();
        Random random = new Random(10);
        byte[] noise = new byte[128];
        for (int i = 0; i < 4_000; i++) {
            random.nextBytes(noise);
            padding.append("SELECT '").append(HexFormat.of().formatHex(noise)).append("';\n");
        }
        byte[] dump = afterLargeObjects(m, padding.toString());
        byte[] stored = ForgedBackups.encode(dump, List.of(VerifyStack.recipient()));

        // the last byte of the stored object flipped: age fails on the final chunk's tag, after all else was loaded
        byte[] flipped = stored.clone();
        flipped[flipped.length - 1] ^= 0x01;
        String damaged = forged().forge(m, "lo_backup_20200101_000002.sql.zst.age", flipped, true, dump.length);
        try {
            assertRestoreFailsAndChangesNothing(damaged, "does not decrypt");
        } finally {
            forged().remove("lo", damaged);
        }

        // intact bytes whose SHA-256 is not the one recorded: found after the last byte was read and loaded
        String mismatched = forged().forge(m, "lo_backup_20200101_000003.sql.zst.age", stored, stored.length,
                "0".repeat(64), dump.length);
        try {
            assertRestoreFailsAndChangesNothing(mismatched, "SHA-256");
        } finally {
            forged().remove("lo", mismatched);
        }
    }

    /** {@code m}'s plain dump with {@code statements} right after the COMMIT that ends its large-object section. */
    private byte[] afterLargeObjects(BackupMetadata m, String statements) throws Exception {
        String dump = new String(forged().plain(m, VerifyStack.identityFile()), StandardCharsets.UTF_8);
        int section = dump.indexOf("; Type: BLOBS; Schema: -;");
        assertThat(section).isPositive();
        int commit = dump.indexOf("\nCOMMIT;\n", section) + "\nCOMMIT;\n".length();
        assertThat(dump.substring(section, commit)).contains("SELECT pg_catalog.lowrite(0, '\\x", "lo_close");
        assertThat(dump.substring(commit)).as("the dump goes on after the section").contains("ALTER TABLE ONLY public.docs");
        return (dump.substring(0, commit) + statements + dump.substring(commit)).getBytes(StandardCharsets.UTF_8);
    }

    /** The target is changed first, so that a restore committed even in part would show. */
    private void assertRestoreFailsAndChangesNothing(String backupId, String reason) throws Exception {
        change(backupId);
        Snapshot before = snapshot();
        Response r = restore(backupId, "clean-schema");
        r.then().statusCode(500).contentType("application/problem+json").body("detail", containsString(reason));
        assertThat(snapshot()).as("the target after the failed restore of %s", backupId).isEqualTo(before);
    }

    private static Response restore(String backupId, String mode) {
        return given().baseUri(VerifyStack.restoreService().apiUrl()).auth().oauth2(TokenResource.RESTORER)
                .contentType("application/json")
                .body(Map.of("backupId", backupId, "target", "lo", "mode", mode, "safetyBackup", false))
                .post("/api/v1/restores?wait=true");
    }

    private ForgedBackups forged() {
        return new ForgedBackups(store, catalog);
    }

    private static PostgresServer pg() {
        return VerifyStack.postgres();
    }
}
