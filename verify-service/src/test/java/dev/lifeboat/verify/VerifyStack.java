package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3FaultProxy;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything verify-service's tests need, started once: a real PostgreSQL holding the databases backed up as
 * {@code main} (the hard-content fixture), {@code legacy} (LATIN1, with a database-level time zone far from UTC),
 * {@code sized} (for the status tests) and {@code lo} (large objects, see {@link #LARGE_OBJECTS}); the in-process S3
 * server; an age key pair; backup-service and restore-service (with a scratch target on the same server, and the
 * in-place target {@code lo} for the large-object database) as real processes from their built applications.
 * For {@code ExtensionsTest} also the databases of {@link #extensionDatabases}, each an in-place restore target of
 * restore-service too, and {@code settings} (database-level settings, see {@link #SETTINGS}). A second PostgreSQL
 * server, the "fresh" one, stands for a rebuilt server: none of the fixtures' roles, a scratch target {@code fresh} of
 * restore-service, so a backup can be restored into it with {@code "roles": "create-missing"} and compared. The returned configuration is verify-service's, run in-process by the tests. Quarkus test
 * resources apply to every test class of the module, so this one stack serves them all (started once).
 */
public class VerifyStack implements QuarkusTestResourceLifecycleManager {
    private static PostgresServer postgres;
    private static PostgresServer fresh;
    private static S3Server s3;
    private static ServiceProcess backupService;
    private static ServiceProcess restoreService;
    private static Path keys;
    private static S3FaultProxy faults;
    private static String postgisMissing;
    /** A database owner that is not a superuser (ExtensionsTest restores as it). */
    static final String OWNER = "app_owner";
    static final String OWNER_PASSWORD = "app-owner-Pw'2";

    /**
     * A database backed up as {@code label}, and restorable in place (clean-schema, no safety backup) through
     * restore-service's target of the same name, which connects as {@code restoreUser}.
     */
    record Extra(String label, String database, String restoreUser, String restorePassword) {
    }

    /**
     * The databases of ExtensionsTest: PostGIS, extensions in public and in another schema, ecosystem features, and
     * two owned by a role that is not a superuser (one with trusted extensions it created, one with PostGIS, which
     * only a superuser creates). Without PostGIS installed its databases stay empty and {@link #postgisMissing} says
     * why, for the tests to fail with.
     */
    private static List<Extra> extensionDatabases(PostgresServer postgres) throws IOException {
        String major = postgres.bin().getParent().getFileName().toString();
        Path control = Path.of("/usr/share/postgresql", major, "extension", "postgis.control");
        postgisMissing = Files.isRegularFile(control) ? null : "PostGIS is not installed for PostgreSQL " + major + " ("
                + control + " is missing): apt-get install postgresql-" + major + "-postgis-3 (.ci/run installs it)";
        postgres.createDatabase("gisdb");
        if (postgisMissing == null) {
            load(postgres, "gisdb", "/fixtures/postgis.sql");
        }
        postgres.createDatabase("extdb");
        load(postgres, "extdb", "/fixtures/extensions.sql");
        postgres.createDatabase("ecodb");
        load(postgres, "ecodb", "/fixtures/ecosystem.sql");
        postgres.psql("postgres", "CREATE ROLE " + OWNER + " LOGIN PASSWORD '" + OWNER_PASSWORD.replace("'", "''")
                + "'; CREATE DATABASE ownerdb OWNER " + OWNER + "; CREATE DATABASE gisownerdb OWNER " + OWNER + ";");
        // trusted extensions, created by the owner itself (PostgreSQL 13+)
        postgres.psql("ownerdb", "SET ROLE " + OWNER + "; CREATE EXTENSION citext; CREATE EXTENSION pg_trgm;"
                + "CREATE TABLE public.people (id int PRIMARY KEY, email citext UNIQUE, bio text);"
                + "CREATE INDEX people_bio ON public.people USING gin (bio gin_trgm_ops);"
                + "INSERT INTO public.people SELECT g, 'Person' || g || '@Example.org', 'bio ' || md5(g::text) "
                + "FROM generate_series(1, 100) g;");
        if (postgisMissing == null) {
            // PostGIS, created by a superuser; the owner's table uses it
            postgres.psql("gisownerdb", "CREATE EXTENSION postgis; SET ROLE " + OWNER + ";"
                    + "CREATE TABLE public.sites (id int PRIMARY KEY, pos geometry(Point, 4326));"
                    + "INSERT INTO public.sites SELECT g, ST_SetSRID(ST_MakePoint(g, g), 4326) FROM generate_series(1, 20) g;");
        }
        return List.of(new Extra("gis", "gisdb", PostgresServer.USER, PostgresServer.PASSWORD),
                new Extra("ext", "extdb", PostgresServer.USER, PostgresServer.PASSWORD),
                new Extra("eco", "ecodb", PostgresServer.USER, PostgresServer.PASSWORD),
                new Extra("owner", "ownerdb", OWNER, OWNER_PASSWORD),
                new Extra("gisowner", "gisownerdb", OWNER, OWNER_PASSWORD));
    }

    private static void load(PostgresServer postgres, String database, String fixture) throws IOException {
        try (InputStream sql = VerifyStack.class.getResourceAsStream(fixture)) {
            postgres.load(database, sql);
        }
    }
    private static String recipient;

    /**
     * The large-object fixture: objects owned by a non-default role and by postgres, one shared by two rows, an
     * empty one, one of 11.2 MB (pseudo-random, so it neither compresses away nor fits one pg_dump write).
     */
    static final String LARGE_OBJECTS = "CREATE TABLE docs (id int PRIMARY KEY, title text, body oid);"
            + "SELECT lo_from_bytea(40001, convert_to('first document', 'UTF8'));"
            + "SELECT lo_from_bytea(40002, convert_to(repeat('shared text ', 5000), 'UTF8'));"
            + "SELECT lo_from_bytea(40003, ''::bytea);"
            + "SELECT lo_from_bytea(40004, (SELECT string_agg(decode(md5(g::text), 'hex'), ''::bytea ORDER BY g) "
            + "FROM generate_series(1, 700000) g));"
            + "ALTER LARGE OBJECT 40001 OWNER TO lo_owner; ALTER LARGE OBJECT 40004 OWNER TO lo_owner;"
            + "INSERT INTO docs VALUES (1, 'first', 40001), (2, 'shared a', 40002), (3, 'shared b', 40002), "
            + "(4, 'empty', 40003), (5, 'big', 40004);";

    /**
     * The database-level settings fixture (database {@code settingsdb}, backed up as {@code settings}): settings for
     * every role and for one role in this database, which a pg_dump does not hold; a table owned by one role and
     * granted to another, which it does.
     */
    static final String SETTINGS = "CREATE ROLE settings_owner; CREATE ROLE settings_reader;"
            + "CREATE DATABASE settingsdb; ALTER DATABASE settingsdb SET search_path = public, billing;"
            + "ALTER DATABASE settingsdb SET work_mem = '5MB';"
            + "ALTER ROLE settings_reader IN DATABASE settingsdb SET statement_timeout = '7s';";

    /** Tables of the many-small-tables fixture (database {@code manydb}, backed up as {@code many}). */
    static final int MANY_TABLES = 453;
    /**
     * The many-small-tables fixture: 450 small tables of 0 to 6 rows (as a database of partitions or of one schema per
     * tenant has), one without columns, and one whose name and values hold what frames a table's rows in COPY text:
     * backslashes, a value {@code \.}, a value {@code .}, an empty string and a NULL.
     */
    static final String MANY_TABLES_SQL = "DO $$ BEGIN FOR i IN 1..450 LOOP "
            + "EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', 't' || lpad(i::text, 4, '0'));"
            + "EXECUTE format('INSERT INTO %I SELECT g, md5((%s * 1000 + g)::text) FROM generate_series(1, %s) g', "
            + "'t' || lpad(i::text, 4, '0'), i, i % 7); END LOOP; END $$;"
            + "CREATE TABLE nocols (); INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES;"
            + "CREATE TABLE \"Odd \\. Name\" (id int, v text);"
            + "INSERT INTO \"Odd \\. Name\" VALUES (1, E'\\\\.'), (2, '.'), (3, ''), (4, NULL), (5, E'a\\nb\\\\');"
            // 4 rows of 1 MB documents, stored uncompressed: a one-block heap, 4 MB of TOAST, so a session of its own
            + "CREATE TABLE docs (id int, body text); ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;"
            + "INSERT INTO docs SELECT d, (SELECT string_agg(md5((d * 100000 + g)::text), '') FROM generate_series(1, 32768) g) "
            + "FROM generate_series(1, 4) d;";

    /** Restore-service's scratch target on the fresh server. */
    static final String FRESH_TARGET = "fresh";

    @Override
    public Map<String, String> start() {
        try {
            postgres = PostgresServer.start();
            postgres.createDatabase("app");
            try (InputStream sql = VerifyStack.class.getResourceAsStream("/fixtures/hard-content.sql")) {
                postgres.load("app", sql);
            }
            postgres.psql("postgres", "CREATE DATABASE legacydb TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' "
                    + "LC_CTYPE 'C'; ALTER DATABASE legacydb SET timezone = 'Pacific/Chatham';");
            postgres.psql("legacydb", "CREATE TABLE keep (v text); INSERT INTO keep VALUES ('caf' || chr(233)), ('ok');"
                    + "CREATE TABLE events (id int PRIMARY KEY, at timestamptz, payload bytea);"
                    + "INSERT INTO events SELECT g, timestamptz '2024-03-30 23:30:00+00' + g * interval '1 hour', "
                    + "decode(md5(g::text), 'hex') FROM generate_series(1, 50) g;"
                    // over 256 blocks (about 400): read back in block ranges, one per read-back connection
                    + "CREATE TABLE bulk (id int, note text, at timestamptz);"
                    + "INSERT INTO bulk SELECT g, 'caf' || chr(233) || ' ' || md5(g::text) || repeat('x', g % 50), "
                    + "timestamptz '2024-03-30 23:30:00+00' + g * interval '1 minute' FROM generate_series(1, 30000) g;");
            postgres.psql("postgres", "CREATE ROLE lo_owner");
            postgres.createDatabase("lodb");
            postgres.psql("lodb", LARGE_OBJECTS);
            postgres.psql("postgres", SETTINGS);
            postgres.psql("settingsdb", "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);"
                    + "INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, 100) g;"
                    + "ALTER TABLE accounts OWNER TO settings_owner; GRANT SELECT ON accounts TO settings_reader;");
            postgres.createDatabase("sizeddb");
            postgres.psql("sizeddb", "CREATE TABLE items (id int PRIMARY KEY, body text);"
                    + "INSERT INTO items SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 3000) g;");
            postgres.createDatabase("manydb");
            postgres.psql("manydb", MANY_TABLES_SQL);
            List<Extra> extras = extensionDatabases(postgres);
            s3 = S3Server.start();
            String[] pair = AgeKeys.generate();
            recipient = pair[0];
            keys = Files.createTempDirectory("lifeboat-verify-keys-");
            Path identity = keys.resolve("key.txt");
            Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(identity, "# public key: " + pair[0] + "\n" + pair[1] + "\n");

            // metadata and verification records are signed and checked, as in production
            Path integrityKeys = keys.resolve("integrity.txt");
            Files.createFile(integrityKeys, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(integrityKeys, "test-1=" + java.util.HexFormat.of().formatHex(
                    java.security.SecureRandom.getSeed(32)) + "\n");
            Map<String, String> store = Map.of(
                    "lifeboat.store.integrity-key-file", integrityKeys.toString(),
                    "lifeboat.store.type", "s3",
                    "lifeboat.store.s3.bucket", S3Server.BUCKET,
                    "lifeboat.store.s3.prefix", "backups",
                    "lifeboat.store.s3.endpoint", s3.endpoint(),
                    "lifeboat.store.s3.path-style", "true",
                    "lifeboat.store.s3.access-key-id", S3Server.ACCESS_KEY,
                    "lifeboat.store.s3.secret-access-key", S3Server.SECRET_KEY);
            String port = Integer.toString(postgres.port());

            Map<String, String> backup = new HashMap<>(store);
            backup.putAll(new TokenResource().start());
            backup.put("lifeboat.encryption.recipients", pair[0]);
            backup.put("lifeboat.backup.schedule", "off");
            for (String[] db : new String[][] {{"main", "app"}, {"legacy", "legacydb"}, {"sized", "sizeddb"}, {"lo", "lodb"},
                    {"settings", "settingsdb"}, {"many", "manydb"}}) {
                backup.put("lifeboat.databases." + db[0] + ".host", postgres.host());
                backup.put("lifeboat.databases." + db[0] + ".port", port);
                backup.put("lifeboat.databases." + db[0] + ".database", db[1]);
                backup.put("lifeboat.databases." + db[0] + ".password", PostgresServer.PASSWORD);
            }
            for (Extra extra : extras) {
                backup.put("lifeboat.databases." + extra.label() + ".host", postgres.host());
                backup.put("lifeboat.databases." + extra.label() + ".port", port);
                backup.put("lifeboat.databases." + extra.label() + ".database", extra.database());
                backup.put("lifeboat.databases." + extra.label() + ".password", PostgresServer.PASSWORD);
            }
            backupService = ServiceProcess.start("backup-service", backup);

            Map<String, String> restore = new HashMap<>(store);
            restore.putAll(new TokenResource().start());
            restore.put("lifeboat.encryption.identity-files", identity.toString());
            restore.put("lifeboat.targets.scratch.host", postgres.host());
            restore.put("lifeboat.targets.scratch.port", port);
            restore.put("lifeboat.targets.scratch.database", "postgres");
            restore.put("lifeboat.targets.scratch.password", PostgresServer.PASSWORD);
            restore.put("lifeboat.targets.scratch.scratch", "true");
            for (Extra extra : extras) {
                String target = "lifeboat.targets." + extra.label();
                restore.put(target + ".host", postgres.host());
                restore.put(target + ".port", port);
                restore.put(target + ".database", extra.database());
                restore.put(target + ".user", extra.restoreUser());
                restore.put(target + ".password", extra.restorePassword());
                restore.put(target + ".database-label", extra.label());
                restore.put(target + ".safety-backup", "false");
            }
            restore.put("lifeboat.targets.lo.host", postgres.host());
            restore.put("lifeboat.targets.lo.port", port);
            restore.put("lifeboat.targets.lo.database", "lodb");
            restore.put("lifeboat.targets.lo.password", PostgresServer.PASSWORD);
            restore.put("lifeboat.targets.lo.modes", "clean-schema,recreate-database");
            restore.put("lifeboat.targets.lo.safety-backup", "false");
            // a rebuilt server: PostgreSQL (with PostGIS, installed for the same binaries) and none of the roles
            fresh = PostgresServer.start();
            String freshTarget = "lifeboat.targets." + FRESH_TARGET;
            restore.put(freshTarget + ".host", fresh.host());
            restore.put(freshTarget + ".port", Integer.toString(fresh.port()));
            restore.put(freshTarget + ".database", "postgres");
            restore.put(freshTarget + ".password", PostgresServer.PASSWORD);
            restore.put(freshTarget + ".scratch", "true");
            // restore-service and verify-service (in-process) read the store through a fault proxy, so tests can make
            // their reads fail (a full verification reads the data object only through its restore)
            faults = S3FaultProxy.start(s3.endpoint());
            restore.put("lifeboat.store.s3.endpoint", faults.endpoint());
            restoreService = ServiceProcess.start("restore-service", restore);

            Map<String, String> verify = new HashMap<>(store);
            verify.putAll(new TokenResource().start());
            verify.put("lifeboat.encryption.identity-files", identity.toString());
            verify.put("lifeboat.peers.restore-url", restoreService.apiUrl());
            verify.put("lifeboat.peers.token", TokenResource.OPERATOR); // operator: scratch restores only
            verify.put("lifeboat.verify.scratch.host", postgres.host());
            verify.put("lifeboat.verify.scratch.port", port);
            verify.put("lifeboat.verify.scratch.password", PostgresServer.PASSWORD);
            verify.put("lifeboat.verify.retry-delay", "1s");
            verify.put("lifeboat.verify.checks.people-present.sql", "SELECT count(*) > 500 FROM public.people");
            verify.put("lifeboat.verify.checks.people-present.databases", "main");
            verify.put("lifeboat.verify.checks.legacy-clean.sql", "SELECT NOT EXISTS (SELECT 1 FROM keep WHERE v = 'bad')");
            verify.put("lifeboat.verify.checks.legacy-clean.databases", "legacy");
            verify.put("lifeboat.databases.empty.rpo", "1h"); // configured, never backed up
            verify.put("lifeboat.databases.empty.pitr.enabled", "true"); // its PITR check is shown by the status
            verify.put("lifeboat.store.s3.endpoint", faults.endpoint());
            verify.put("lifeboat.store.s3.archive.poll-interval", "50ms");
            return verify;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The labels of every database backup-service backs up here. */
    static List<String> labels() {
        return List.of("main", "legacy", "sized", "gis", "ext", "eco", "owner", "gisowner", "lo", "settings", "many");
    }

    /** Why the PostGIS databases are empty (PostGIS not installed), or null. */
    static String postgisMissing() {
        return postgisMissing;
    }

    /** The age recipient backup-service encrypts to. */
    static String recipient() {
        return recipient;
    }

    /** The age identity restore-service and verify-service decrypt with. */
    static Path identityFile() {
        return keys.resolve("key.txt");
    }

    static PostgresServer postgres() {
        return postgres;
    }

    /** The fresh server (restore-service's scratch target {@link #FRESH_TARGET}). */
    static PostgresServer fresh() {
        return fresh;
    }

    /**
     * A completed restore into the fresh server: its id, the scratch database it created there and the detail of its
     * LOAD step, which names the roles it created.
     */
    record FreshRestore(String id, String database, String loadDetail) {
        /**
         * Exactly {@code roles} were created by the restore (none when empty), and each cannot log in: the backup
         * holds no passwords, so they come back NOLOGIN.
         */
        void assertRolesCreatedNologin(String... roles) {
            if (roles.length == 0) {
                assertThat(loadDetail).doesNotContain("roles created");
                return;
            }
            List<String> sorted = java.util.Arrays.stream(roles).sorted().toList();
            assertThat(loadDetail).contains("roles created: " + sorted);
            assertThat(fresh.psql("postgres", "SELECT string_agg(rolname || ':' || rolcanlogin, ',' ORDER BY rolname) "
                    + "FROM pg_roles WHERE rolname IN ('" + String.join("', '", sorted) + "')"))
                    .isEqualTo(String.join(",", sorted.stream().map(r -> r + ":false").toList()));
        }

        /**
         * Drops the scratch database through restore-service, then every role the restores created, so that the
         * fresh server is again one without the fixtures' roles for the next test.
         */
        void drop() {
            given().baseUri(restoreService.apiUrl()).auth().oauth2(TokenResource.RESTORER)
                    .delete("/api/v1/restores/" + id + "/database").then().statusCode(204);
            assertThat(fresh.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_scratch\\_%'"))
                    .as("scratch databases left on the fresh server").isEqualTo("0");
            String roles = fresh.psql("postgres", "SELECT string_agg(quote_ident(rolname), ', ') FROM pg_roles "
                    + "WHERE rolname !~ '^pg_' AND oid <> 10");
            if (!roles.isEmpty()) {
                fresh.psql("postgres", "DROP ROLE " + roles);
            }
        }
    }

    /** Restores backup {@code backupId} into the fresh server, creating the missing roles; asserts it completed. */
    static FreshRestore restoreIntoFresh(String backupId) {
        Response r = given().baseUri(restoreService.apiUrl()).auth().oauth2(TokenResource.RESTORER)
                .contentType("application/json")
                .body(Map.of("backupId", backupId, "target", FRESH_TARGET, "roles", "create-missing"))
                .post("/api/v1/restores?wait=true");
        assertThat(r.statusCode()).as(r.asString()).isEqualTo(201);
        JsonPath done = r.jsonPath();
        assertThat(done.getString("status")).as(done.getString("error")).isEqualTo("COMPLETED");
        assertThat(done.getString("database")).startsWith("lifeboat_scratch_");
        return new FreshRestore(done.getString("id"), done.getString("database"),
                done.getString("steps.find { it.name == 'LOAD' }.detail"));
    }

    /** The fault proxy between the in-process verify-service and the S3 server. */
    static S3FaultProxy faults() {
        return faults;
    }

    static ServiceProcess backupService() {
        return backupService;
    }

    static ServiceProcess restoreService() {
        return restoreService;
    }

    @Override
    public void stop() {
        for (ServiceProcess p : new ServiceProcess[] {backupService, restoreService}) {
            if (p != null) {
                p.close();
            }
        }
        if (faults != null) {
            faults.close();
        }
        if (s3 != null) {
            s3.close();
        }
        for (PostgresServer server : new PostgresServer[] {postgres, fresh}) {
            if (server != null) {
                server.close();
            }
        }
        TempDirs.delete(keys);
    }
}
