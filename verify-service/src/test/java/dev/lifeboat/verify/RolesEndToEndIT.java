package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.store.FilesystemObjectStore;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Roles are cluster-wide, so a pg_dump does not hold them: each backup stores the definitions of the roles its
 * database refers to, and a restore requires them or creates the missing ones inside its transaction. The three
 * services run as processes against three real PostgreSQL servers: the source (objects owned by three roles, with
 * grants between them, a membership and default privileges), the verification's scratch server and a "fresh" server
 * (an in-place target) that has none of those roles, as after a rebuild.
 */
class RolesEndToEndIT {
    private static final String WRITER_PASSWORD = "writer-Secret-1";
    private static final List<String> APP_ROLES = List.of("app_owner", "app_reader", "app_writer");
    private static PostgresServer source;
    private static PostgresServer scratch;
    private static PostgresServer fresh;
    private static Path dir;
    private static Path storeRoot;
    private static Path identity;
    private static String recipient;
    private static Map<String, String> backupConfig;
    private static ServiceProcess backup;
    private static ServiceProcess restore;
    private static ServiceProcess verify;

    @BeforeAll
    static void start() throws Exception {
        source = PostgresServer.start();
        scratch = PostgresServer.start();
        fresh = PostgresServer.start();
        source.psql("postgres", """
                CREATE ROLE app_owner NOLOGIN;
                CREATE ROLE app_writer LOGIN PASSWORD '%s' CONNECTION LIMIT 7;
                CREATE ROLE app_reader NOLOGIN;
                CREATE ROLE bystander LOGIN;
                COMMENT ON ROLE app_owner IS 'owns the shop';
                ALTER ROLE app_writer SET statement_timeout = '5min';
                GRANT app_reader TO app_writer;
                CREATE DATABASE app OWNER app_owner;
                """.formatted(WRITER_PASSWORD));
        source.psql("app", """
                CREATE SCHEMA shop AUTHORIZATION app_owner;
                SET ROLE app_owner;
                CREATE TABLE shop.items (id int PRIMARY KEY, name text NOT NULL);
                INSERT INTO shop.items SELECT g, 'item ' || g FROM generate_series(1, 200) g;
                CREATE VIEW shop.item_names AS SELECT name FROM shop.items;
                GRANT USAGE ON SCHEMA shop TO app_writer, app_reader;
                GRANT SELECT, INSERT, UPDATE ON shop.items TO app_writer;
                GRANT SELECT ON ALL TABLES IN SCHEMA shop TO app_reader;
                ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA shop GRANT SELECT ON TABLES TO app_reader;
                RESET ROLE;
                CREATE TABLE shop.audit (at timestamptz NOT NULL, what text);
                ALTER TABLE shop.audit OWNER TO app_writer;
                GRANT SELECT ON shop.audit TO app_reader;
                INSERT INTO shop.audit VALUES ('2026-01-01 00:00:00+00', 'created');
                CREATE TABLE public.notes (body text);
                ALTER TABLE public.notes OWNER TO app_reader;
                INSERT INTO public.notes VALUES ('hello');
                """);

        dir = Files.createTempDirectory("lifeboat-roles-e2e-");
        storeRoot = dir.resolve("store");
        String[] pair = AgeKeys.generate();
        recipient = pair[0];
        identity = dir.resolve("key.txt");
        Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(identity, "# public key: " + pair[0] + "\n" + pair[1] + "\n");

        Map<String, String> common = new HashMap<>(new TokenResource().start());
        common.put("lifeboat.store.type", "filesystem");
        common.put("lifeboat.store.filesystem.path", storeRoot.toString());
        common.put("lifeboat.encryption.identity-files", identity.toString());

        Map<String, String> restoreConfig = new HashMap<>(common);
        restoreConfig.putAll(target("primary", source, "app"));
        restoreConfig.put("lifeboat.targets.primary.database-label", "main");
        restoreConfig.put("lifeboat.targets.primary.safety-backup", "false");
        restoreConfig.putAll(target("fresh", fresh, "app"));
        restoreConfig.put("lifeboat.targets.fresh.safety-backup", "false");
        restoreConfig.putAll(target("scratch", scratch, "postgres"));
        restoreConfig.put("lifeboat.targets.scratch.scratch", "true");
        restore = ServiceProcess.start("restore-service", restoreConfig);

        Map<String, String> verifyConfig = new HashMap<>(common);
        verifyConfig.put("lifeboat.peers.restore-url", restore.apiUrl());
        verifyConfig.put("lifeboat.peers.token", TokenResource.OPERATOR);
        verifyConfig.put("lifeboat.verify.scratch.host", scratch.host());
        verifyConfig.put("lifeboat.verify.scratch.port", Integer.toString(scratch.port()));
        verifyConfig.put("lifeboat.verify.scratch.password", PostgresServer.PASSWORD);
        verifyConfig.put("lifeboat.verify.sweep-schedule", "off");
        verify = ServiceProcess.start("verify-service", verifyConfig);

        backupConfig = new HashMap<>(common);
        backupConfig.put("lifeboat.databases.main.host", source.host());
        backupConfig.put("lifeboat.databases.main.port", Integer.toString(source.port()));
        backupConfig.put("lifeboat.databases.main.database", "app");
        backupConfig.put("lifeboat.databases.main.password", PostgresServer.PASSWORD);
        backupConfig.put("lifeboat.encryption.recipients", recipient);
        backupConfig.put("lifeboat.backup.schedule", "off");
        backup = ServiceProcess.start("backup-service", backupConfig);
    }

    private static Map<String, String> target(String name, PostgresServer server, String database) {
        return Map.of("lifeboat.targets." + name + ".host", server.host(),
                "lifeboat.targets." + name + ".port", Integer.toString(server.port()),
                "lifeboat.targets." + name + ".database", database,
                "lifeboat.targets." + name + ".password", PostgresServer.PASSWORD);
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {backup, verify, restore, source, scratch, fresh}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // stopping; the next one still closes
            }
        }
        TempDirs.delete(dir);
    }

    /** The fresh server as after a rebuild: an empty database {@code app} and none of the application's roles. */
    @BeforeEach
    void resetFreshServer() {
        fresh.psql("postgres", "DROP DATABASE IF EXISTS app WITH (FORCE); CREATE DATABASE app;"
                + "DROP ROLE IF EXISTS app_owner, app_writer, app_reader;");
    }

    // ---- the round trip ----

    @Test
    void rolesAreBackedUpEncryptedAndComeBackInPlaceAndOnAFreshServer() throws Exception {
        BackupMetadata metadata = takeBackup(backup);
        String atBackup = source.pgDump("app");

        // the metadata lists the referenced roles: not the bystander, not the bootstrap superuser
        assertThat(metadata.roles()).isNotNull();
        assertThat(metadata.roles().names()).containsExactlyElementsOf(APP_ROLES);
        assertThat(metadata.roles().passwords()).isFalse();
        assertThat(metadata.roles().key()).endsWith("/roles/" + metadata.id());
        // stored encrypted; decrypted through the read chain, it holds the definitions and no password hash
        byte[] stored = Files.readAllBytes(storeRoot.resolve(metadata.roles().key()));
        assertThat(new String(stored, 0, 21, StandardCharsets.US_ASCII)).isEqualTo("age-encryption.org/v1");
        String roles = readRoles(metadata);
        assertThat(roles).contains("CREATE ROLE app_owner;", "CREATE ROLE app_writer;", "CREATE ROLE app_reader;",
                "GRANT app_reader TO app_writer", "COMMENT ON ROLE app_owner IS 'owns the shop';")
                .doesNotContain("bystander", "CREATE ROLE postgres", "PASSWORD", "SCRAM-SHA-256");

        // a full verification restores into a scratch server that has none of the roles: created there, PASSED
        JsonPath verification = given().baseUri(verify.apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("backupId", metadata.id(), "level", "full"))
                .post("/api/v1/verifications?wait=true").then().statusCode(201).extract().jsonPath();
        assertThat(verification.getString("result")).as(verification.prettify() + verify.log() + restore.log())
                .isEqualTo("PASSED");
        assertThat(scratch.psql("postgres", "SELECT string_agg(rolname || ':' || rolcanlogin, ',' ORDER BY rolname) "
                + "FROM pg_roles WHERE rolname LIKE 'app\\_%'")).isEqualTo("app_owner:false,app_reader:false,app_writer:false");

        // data changed, then restored in place: the roles are there, so require passes
        source.psql("app", "UPDATE shop.items SET name = 'changed' WHERE id <= 10; DELETE FROM public.notes;"
                + "GRANT SELECT ON shop.items TO bystander;");
        assertThat(source.pgDump("app")).isNotEqualTo(atBackup);
        restorer().body(Map.of("backupId", metadata.id(), "target", "primary", "roles", "require"))
                .post("/api/v1/restores?wait=true").then().statusCode(201).body("status", equalTo("COMPLETED"));
        assertThat(source.pgDump("app")).isEqualTo(atBackup);

        // into a fresh server without the roles: created in the load, NOLOGIN, owners and grants as at backup time
        Response r = restorer().body(Map.of("backupId", metadata.id(), "target", "fresh", "roles", "create-missing"))
                .post("/api/v1/restores?wait=true");
        r.then().statusCode(201).body("status", equalTo("COMPLETED"));
        assertThat(r.jsonPath().getString("steps.find { it.name == 'LOAD' }.detail"))
                .contains("roles created: [app_owner, app_reader, app_writer]");
        assertThat(fresh.pgDump("app")).isEqualTo(atBackup);
        assertThat(fresh.psql("postgres", "SELECT string_agg(rolname || ':' || rolcanlogin || ':' || rolconnlimit, ',' "
                + "ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'app\\_%'"))
                .isEqualTo("app_owner:false:-1,app_reader:false:-1,app_writer:false:7");
        assertThat(fresh.psql("postgres", "SELECT pg_has_role('app_writer', 'app_reader', 'MEMBER'), "
                + "shobj_description('app_owner'::regrole, 'pg_authid'), (SELECT setconfig FROM pg_db_role_setting "
                + "WHERE setrole = 'app_writer'::regrole)")).isEqualTo("t|owns the shop|{statement_timeout=5min}");
        assertThat(fresh.psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'bystander'")).isEqualTo("0");
    }

    @Test
    void requireRefusesUpFrontNamingTheMissingRolesAndADamagedRolesObjectIsFound() throws Exception {
        String id = takeBackup(backup).id();
        String before = fresh.pgDump("app");

        // in place, require is the default
        restorer().body(Map.of("backupId", id, "target", "fresh")).post("/api/v1/restores?wait=true").then()
                .statusCode(409).contentType("application/problem+json").body("type", equalTo("/problems/roles-missing"))
                .body("detail", containsString("[app_owner, app_reader, app_writer]"));
        restorer().body(Map.of("backupId", id, "target", "fresh", "roles", "require")).post("/api/v1/restores")
                .then().statusCode(409).body("type", equalTo("/problems/roles-missing"));
        restorer().body(Map.of("backupId", id, "target", "fresh", "roles", "create-all")).post("/api/v1/restores")
                .then().statusCode(400).contentType("application/problem+json")
                .body("detail", containsString("create-missing or require"));

        assertThat(fresh.psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'app\\_%'")).isEqualTo("0");
        assertThat(fresh.pgDump("app")).isEqualTo(before);

        // a damaged roles object: the checksum verification fails naming it, and a restore is refused up front
        Path rolesObject = storeRoot.resolve("database/main/roles/" + id);
        byte[] bytes = Files.readAllBytes(rolesObject);
        bytes[bytes.length - 5] ^= 0x01;
        Files.write(rolesObject, bytes);
        JsonPath checksum = given().baseUri(verify.apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("backupId", id, "level", "checksum"))
                .post("/api/v1/verifications?wait=true").then().statusCode(201).extract().jsonPath();
        assertThat(checksum.getString("result")).isEqualTo("FAILED");
        assertThat(checksum.getString("error")).contains("roles object");
        restorer().body(Map.of("backupId", id, "target", "fresh", "roles", "create-missing")).post("/api/v1/restores")
                .then().statusCode(422).body("type", equalTo("/problems/checksum-mismatch"))
                .body("detail", containsString("roles object"));
        assertThat(fresh.psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'app\\_%'")).isEqualTo("0");

        // deleting the backup deletes its roles object too
        given().baseUri(backup.apiUrl()).auth().oauth2(TokenResource.OPERATOR).delete("/api/v1/backups/" + id + "?force=true")
                .then().statusCode(204);
        assertThat(rolesObject).doesNotExist();
        assertThat(storeRoot.resolve("database/main/" + id)).doesNotExist();
    }

    @Test
    void aFailingLoadTakesTheRolesItCreatedWithIt() {
        String id = takeBackup(backup).id();
        // the target refuses the dump's CREATE VIEW, well after the roles were created in the same transaction
        fresh.psql("app", """
                CREATE SCHEMA guard;
                CREATE FUNCTION guard.refuse() RETURNS event_trigger LANGUAGE plpgsql AS
                  $$ BEGIN RAISE EXCEPTION 'views are not allowed here'; END $$;
                CREATE EVENT TRIGGER no_views ON ddl_command_start WHEN TAG IN ('CREATE VIEW') EXECUTE FUNCTION guard.refuse();
                """);
        String before = fresh.pgDump("app");

        Response r = restorer().body(Map.of("backupId", id, "target", "fresh", "roles", "create-missing"))
                .post("/api/v1/restores?wait=true");
        r.then().statusCode(500).body("detail", containsString("views are not allowed here"));

        assertThat(fresh.psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'app\\_%'")).isEqualTo("0");
        assertThat(fresh.pgDump("app")).isEqualTo(before);
    }

    @Test
    void passwordsAreStoredOnlyWhenConfiguredAndThenTheRestoredRoleLogsIn() throws Exception {
        Map<String, String> withPasswords = new HashMap<>(backupConfig);
        withPasswords.put("lifeboat.backup.roles.passwords", "true");
        BackupMetadata metadata;
        try (ServiceProcess second = ServiceProcess.start("backup-service", withPasswords)) {
            metadata = takeBackup(second);
            assertThat(second.log()).doesNotContain("SCRAM-SHA-256");
        }
        assertThat(metadata.roles().passwords()).isTrue();
        assertThat(readRoles(metadata)).contains("PASSWORD 'SCRAM-SHA-256$");

        restorer().body(Map.of("backupId", metadata.id(), "target", "fresh", "roles", "create-missing"))
                .post("/api/v1/restores?wait=true").then().statusCode(201).body("status", equalTo("COMPLETED"));
        assertThat(fresh.pgDump("app")).isEqualTo(source.pgDump("app"));
        assertThat(loginAs("app_writer", WRITER_PASSWORD)).isEqualTo("app_writer");
        // the server does check the password (scram), so the login above proves the hash came back
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> loginAs("app_writer", "wrong")))
                .hasMessageContaining("password authentication failed");
        assertThat(fresh.psql("postgres", "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_reader'")).isEqualTo("f");
        assertThat(restore.log()).doesNotContain("SCRAM-SHA-256");
    }

    // ---- helpers ----

    private static BackupMetadata takeBackup(ServiceProcess service) {
        JsonPath done = given().baseUri(service.apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body("{}").post("/api/v1/backups?wait=true").then().statusCode(201)
                .extract().jsonPath();
        try {
            return Json.read(Files.readAllBytes(storeRoot.resolve("database/main/metadata/" + done.getString("id")
                    + ".json")), BackupMetadata.class);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The roles object of a backup, read and decrypted through the read chain. */
    private static String readRoles(BackupMetadata metadata) {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        ReadChain.Result result = ReadChain.read(new FilesystemObjectStore(storeRoot), ReadChain.StoredObject.roles(metadata),
                AgeKeys.readIdentities(List.of(identity)), new Measure(), text::write);
        assertThat(result.outcome()).as(result.detail()).isEqualTo(ReadChain.Outcome.OK);
        return text.toString(StandardCharsets.UTF_8);
    }

    private static String loginAs(String user, String password) {
        return new String(PostgresServer.run(List.of(fresh.bin().resolve("psql").toString(), "-X", "-A", "-t", "-d", "app",
                "-c", "SELECT current_user"), Map.of("PGHOST", fresh.host(), "PGPORT", Integer.toString(fresh.port()),
                "PGUSER", user, "PGPASSWORD", password), null), StandardCharsets.UTF_8).strip();
    }

    private static io.restassured.specification.RequestSpecification restorer() {
        return given().baseUri(restore.apiUrl()).auth().oauth2(TokenResource.RESTORER).contentType("application/json");
    }
}
