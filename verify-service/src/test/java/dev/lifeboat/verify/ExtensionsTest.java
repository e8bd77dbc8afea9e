package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.TableFingerprint;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Databases as users run them, end to end: a PostGIS database, extensions in public and in another schema, and the
 * PostgreSQL features applications use (partitions, domains, enums, generated and identity columns, full-text
 * triggers, materialized views, row-level security, ICU collations, inheritance, comments, publications). Each is
 * backed up, fully verified (PASSED), changed, restored in place (clean-schema) and must then dump exactly as at
 * backup time; restored then into VerifyStack's fresh server (as after a rebuild: none of the roles, roles
 * create-missing) it must dump exactly so too, the roles it refers to created NOLOGIN. A database owner who is not a
 * superuser restores trusted extensions, and is refused PostGIS with a message naming it, the target unchanged. A
 * database's own settings ({@code ALTER DATABASE ... SET}) are not in a pg_dump: restored into the fresh server, the
 * data is equal and the settings are not there, as documented. PostGIS must be installed (.ci/run installs it):
 * without it this fails. The databases are VerifyStack's ({@code extensionDatabases}, {@code settings}).
 */
@QuarkusTest
@QuarkusTestResource(VerifyStack.class)
class ExtensionsTest {
    private static final String OWNER = VerifyStack.OWNER;
    @Inject
    BackupCatalog catalog;

    @Test
    void aPostgisDatabaseVerifiesAndRestoresInPlaceExactly() {
        assertPostgisInstalled();
        String shipped = pg().psql("gisdb", "SELECT count(*) FROM spatial_ref_sys");
        String id = VerificationTest.backup("gis");
        String atBackup = pg().pgDump("gisdb");
        BackupMetadata m = catalog.get(id);
        // pg_dump dumps the rows of the configuration table its condition selects: the custom one only
        assertThat(m.fingerprint()).filteredOn(t -> t.table().equals("public.spatial_ref_sys"))
                .extracting(TableFingerprint::rows).containsExactly(1L);

        long started = System.nanoTime();
        Response r = VerificationTest.verify(id, "full");
        double seconds = (System.nanoTime() - started) / 1e9;
        r.then().statusCode(201).body("result", equalTo("PASSED")).body("tablesCompared", equalTo(m.fingerprint().size()));
        System.out.printf("PostGIS database full verification: %.1f s wall time (restore %.1f s, %d tables)%n", seconds,
                r.jsonPath().getDouble("restoreSeconds"), m.fingerprint().size());

        restoresInPlaceToTheDumpedState("gis", "gisdb", id, atBackup, "DELETE FROM places WHERE id <= 50;"
                + "UPDATE places SET name = 'moved', pos = ST_SetSRID(ST_MakePoint(0, 0), 4326) WHERE id = 60;"
                + "UPDATE spatial_ref_sys SET proj4text = '+proj=changed' WHERE srid = 990001;"
                + "INSERT INTO spatial_ref_sys VALUES (990002, 'NEW', 990002, '', '+proj=longlat');"
                + "DELETE FROM spatial_ref_sys WHERE srid = 2154; DROP INDEX places_area;");
        // the shipped reference systems (not in the dump) come back with the extension
        assertThat(pg().psql("gisdb", "SELECT count(*) FROM spatial_ref_sys")).isEqualTo(shipped);
        assertThat(pg().psql("gisdb", "SELECT ST_AsText(pos) FROM places WHERE id = 60")).isEqualTo("POINT(30 15)");
        restoresIntoTheFreshServerExactly(id, atBackup);
    }

    @Test
    void extensionsInPublicAndInAnotherSchemaSurviveACleanSchemaRestore() {
        String id = VerificationTest.backup("ext");
        String atBackup = pg().pgDump("extdb");
        VerificationTest.verify(id, "full").then().statusCode(201).body("result", equalTo("PASSED"));
        restoresInPlaceToTheDumpedState("ext", "extdb", id, atBackup, "DELETE FROM app.tags WHERE name LIKE '%1%';"
                + "UPDATE public.accounts SET attrs = attrs OPERATOR(ext.||) ext.hstore('plan', 'gone'), email = upper(email::text) "
                + "WHERE id IN (SELECT id FROM public.accounts ORDER BY id LIMIT 20);"
                + "DROP INDEX public.accounts_note_trgm; CREATE TABLE ext.extra (id int);");
        assertThat(pg().psql("extdb", "SELECT extname || ' ' || extnamespace::regnamespace FROM pg_extension "
                + "WHERE extname <> 'plpgsql' ORDER BY 1").lines())
                .containsExactly("citext public", "hstore ext", "pg_trgm ext", "uuid-ossp public");
        assertThat(pg().psql("extdb", "SELECT count(*) FROM public.accounts WHERE ext.similarity(note, 'note number 42 about') > 0.36"))
                .isEqualTo("1");
        restoresIntoTheFreshServerExactly(id, atBackup);
    }

    @Test
    void ecosystemFeaturesBackUpVerifyAndRestoreExactly() {
        String salesBefore = pg().psql("ecodb", "SELECT * FROM shop.sales_by_state ORDER BY state");
        String id = VerificationTest.backup("eco");
        String atBackup = pg().pgDump("ecodb");
        BackupMetadata m = catalog.get(id);
        assertThat(m.fingerprint()).extracting(TableFingerprint::table).contains("shop.orders_default", "shop.notes",
                "shop.audit_events", "shop.events").doesNotContain("shop.orders", "shop.sales_by_state");
        Response r = VerificationTest.verify(id, "full");
        r.then().statusCode(201).body("result", equalTo("PASSED")).body("tablesCompared", equalTo(m.fingerprint().size()));
        assertThat(r.jsonPath().getString("steps.find { it.name == 'AMCHECK' }.status")).isEqualTo("DONE");

        restoresInPlaceToTheDumpedState("eco", "ecodb", id, atBackup, "UPDATE shop.products SET description = 'geändert' "
                + "WHERE id % 5 = 0; DELETE FROM shop.orders WHERE placed < '2025-01-01';"
                + "INSERT INTO shop.orders (placed, total) VALUES ('2030-01-01', 1);"
                + "REFRESH MATERIALIZED VIEW shop.sales_by_state; ALTER PUBLICATION shop_changes ADD TABLE shop.notes;"
                + "DROP POLICY notes_by_author ON shop.notes; INSERT INTO shop.audit_events VALUES (999, now(), 'x', 'me');"
                + "ALTER TYPE shop.\"état\" ADD VALUE 'annulé'; DROP PUBLICATION \"veröffentlichung\";");
        assertThat(pg().psql("ecodb", "SELECT * FROM shop.sales_by_state ORDER BY state")).isEqualTo(salesBefore);
        assertThat(pg().psql("ecodb", "SELECT count(*) FROM shop.products WHERE search @@ to_tsquery('german', 'Läufer')"))
                .isEqualTo("120");
        restoresIntoTheFreshServerExactly(id, atBackup);
    }

    @Test
    void aDatabaseOwnerWhoIsNotSuperuserRestoresTrustedExtensions() {
        String id = VerificationTest.backup("owner");
        String atBackup = pg().pgDump("ownerdb");
        restoresInPlaceToTheDumpedState("owner", "ownerdb", id, atBackup, "SET ROLE " + OWNER + ";"
                + "DELETE FROM public.people WHERE id > 50; DROP EXTENSION pg_trgm CASCADE;");
        // created again by the owner, who may: trusted extensions
        assertThat(pg().psql("ownerdb", "SELECT extname || ' ' || pg_get_userbyid(extowner) FROM pg_extension "
                + "WHERE extname <> 'plpgsql' ORDER BY 1").lines()).containsExactly("citext " + OWNER, "pg_trgm " + OWNER);
        // the owner is a login role with a password here; on the fresh server it is created without either
        restoresIntoTheFreshServerExactly(id, atBackup, OWNER);
    }

    @Test
    void aDatabasesOwnSettingsDoNotComeToAFreshServerButItsDataDoes() {
        String settings = "SELECT string_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0))::text, '*') || ' ' || c, "
                + "E'\\n' ORDER BY s.setrole, c) FROM pg_db_role_setting s, unnest(s.setconfig) c "
                + "WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = '%s')";
        assertThat(pg().psql("postgres", settings.formatted("settingsdb")).lines()).containsExactly(
                "* search_path=public, billing", "* work_mem=5MB", "settings_reader statement_timeout=7s");
        String id = VerificationTest.backup("settings");
        String atBackup = pg().pgDump("settingsdb");
        assertThat(atBackup).contains("ALTER TABLE public.accounts OWNER TO settings_owner;")
                .contains("GRANT SELECT ON TABLE public.accounts TO settings_reader;");

        VerifyStack.FreshRestore restored = VerifyStack.restoreIntoFresh(id);
        try {
            assertThat(fresh().pgDump(restored.database())).isEqualTo(atBackup);
            restored.assertRolesCreatedNologin("settings_owner", "settings_reader");
            // documented: ALTER DATABASE ... SET (and ALTER ROLE ... IN DATABASE ... SET) are not in a pg_dump
            assertThat(fresh().psql("postgres", settings.formatted(restored.database()))).isEmpty();
            assertThat(fresh().psql(restored.database(), "SELECT current_setting('work_mem')")).isNotEqualTo("5MB");
        } finally {
            restored.drop();
        }
    }

    @Test
    void aDatabaseOwnerWhoIsNotSuperuserIsRefusedPostgisByNameAndTheTargetIsUnchanged() {
        assertPostgisInstalled();
        String id = VerificationTest.backup("gisowner");
        pg().psql("gisownerdb", "SET ROLE " + OWNER + "; DELETE FROM public.sites WHERE id > 10;");
        String before = pg().pgDump("gisownerdb");

        Response r = restore("gisowner", id);
        r.then().statusCode(500).contentType("application/problem+json");
        Response job = given().baseUri(VerifyStack.restoreService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/restores/" + r.header("Location").replaceAll(".*/", ""));
        job.then().statusCode(200).body("status", equalTo("FAILED")).body("failure", equalTo("TARGET_ERROR"))
                .body("steps.find { it.status == 'FAILED' }.name", equalTo("LOAD"));
        assertThat(r.jsonPath().getString("detail")).endsWith(job.jsonPath().getString("error"));
        assertThat(job.jsonPath().getString("error")).contains("Extension postgis could not be created by role " + OWNER
                + ": permission denied to create extension \"postgis\"").contains("restore as a superuser")
                .contains("the target is unchanged");
        assertThat(pg().pgDump("gisownerdb")).isEqualTo(before);
        assertThat(pg().psql("gisownerdb", "SELECT count(*) FROM public.sites")).isEqualTo("10");
    }

    // ---- helpers ----

    private static void assertPostgisInstalled() {
        assertThat(VerifyStack.postgisMissing()).as("PostGIS on the test machine").isNull();
    }

    /**
     * Changes the database with {@code change}, restores backup {@code id} in place through {@code target}, and
     * compares its pg_dump with {@code atBackup}, the one taken right after the backup.
     */
    private static void restoresInPlaceToTheDumpedState(String target, String database, String id, String atBackup,
                                                        String change) {
        pg().psql(database, change);
        assertThat(pg().pgDump(database)).isNotEqualTo(atBackup);
        Response r = restore(target, id);
        r.then().statusCode(201);
        assertThat(r.jsonPath().getString("status")).as(r.jsonPath().getString("error")).isEqualTo("COMPLETED");
        assertThat(pg().pgDump(database)).isEqualTo(atBackup);
    }

    /**
     * Restores backup {@code id} into the fresh server (none of the roles; roles create-missing) and compares its
     * pg_dump, owners and grants included, with {@code atBackup}; exactly {@code roles} were created, NOLOGIN. The
     * scratch database and those roles are dropped afterwards.
     */
    private static void restoresIntoTheFreshServerExactly(String id, String atBackup, String... roles) {
        VerifyStack.FreshRestore restored = VerifyStack.restoreIntoFresh(id);
        try {
            assertThat(fresh().pgDump(restored.database())).as("pg_dump on the fresh server").isEqualTo(atBackup);
            restored.assertRolesCreatedNologin(roles);
        } finally {
            restored.drop();
        }
    }

    private static Response restore(String target, String backupId) {
        return given().baseUri(VerifyStack.restoreService().apiUrl()).auth().oauth2(TokenResource.RESTORER)
                .contentType("application/json").body(Map.of("backupId", backupId, "target", target))
                .post("/api/v1/restores?wait=true");
    }

    private static PostgresServer pg() {
        return VerifyStack.postgres();
    }

    private static PostgresServer fresh() {
        return VerifyStack.fresh();
    }
}
