package dev.lifeboat.backup;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.testing.AgeKeyResource;
import dev.lifeboat.common.testing.FilesystemStoreResource;
import dev.lifeboat.common.testing.PostgresResource;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A backup that stalls (pg_dump waiting forever on a lock another session holds) fails at its time limit with a
 * message naming the setting, leaves nothing behind, and does not block the next backup.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@WithTestResource(FilesystemStoreResource.class)
@WithTestResource(AgeKeyResource.class)
@WithTestResource(TokenResource.class)
@TestProfile(BackupTimeLimitTest.ShortTimeLimit.class)
class BackupTimeLimitTest {
    private static final Duration LIMIT = Duration.ofSeconds(6);

    /** A backup may run 6 s. */
    public static class ShortTimeLimit implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("lifeboat.backup.timeout", LIMIT.toSeconds() + "s", "lifeboat.backup.schedule", "off");
        }
    }

    @Test
    void aBackupStalledOnALockFailsAtItsTimeLimitNamingItAndTheNextBackupRuns() throws Exception {
        BackupTestSupport.useToken(TokenResource.OPERATOR);
        PostgresServer pg = BackupTestSupport.postgres();
        pg.psql("app", "CREATE TABLE IF NOT EXISTS public.contended (id int)");
        ProcessBuilder lock = new ProcessBuilder(List.of(PostgresServer.binDir().resolve("psql").toString(), "-X",
                "-d", "app", "-c", "BEGIN; LOCK TABLE public.contended IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(300);"))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        lock.environment().putAll(pg.env());
        Process holder = lock.start();
        try {
            Poll.until("the lock to be held", Duration.ofSeconds(30), () -> pg.psql("app", "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                    + "ON c.oid = l.relation WHERE c.relname = 'contended' AND l.mode = 'AccessExclusiveLock' "
                    + "AND l.granted").equals("1"));
            long start = System.nanoTime();
            String id = given().contentType("application/json").body("{}").post("/api/v1/backups")
                    .then().statusCode(202).extract().path("id");
            JsonPath failed = awaitDone(id);
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(failed.getString("status")).isEqualTo("FAILED");
            assertThat(failed.getString("error")).contains("timed out after 6s").contains("lifeboat.backup.timeout");
            assertThat(seconds).isGreaterThanOrEqualTo(LIMIT.toSeconds() - 0.5).isLessThan(60);
            // nothing that looks like a backup is left: no data object without metadata
            given().get("/api/v1/backups/" + id).then().statusCode(200).body("status", org.hamcrest.Matchers.equalTo("FAILED"));
            assertThat(java.nio.file.Files.exists(BackupTestSupport.storeRoot().resolve("database/main/" + id))).isFalse();
        } finally {
            holder.destroyForcibly();
            holder.waitFor();
            // a sleeping backend notices its client is gone only when it next talks to it: end it now
            pg.psql("app", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    + "WHERE query LIKE '%LOCK TABLE public.contended%' AND pid <> pg_backend_pid()");
        }
        Poll.until("the lock to be released", Duration.ofSeconds(30), () -> pg.psql("app", "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                + "ON c.oid = l.relation WHERE c.relname = 'contended' AND l.mode = 'AccessExclusiveLock'").equals("0"));
        // the service is not stuck: the next backup runs as usual
        given().contentType("application/json").body("{}").post("/api/v1/backups?wait=true").then()
                .log().ifValidationFails().statusCode(201);
    }

    private static JsonPath awaitDone(String id) {
        return Poll.value("backup " + id + " to end", Duration.ofSeconds(90), () -> {
            JsonPath job = given().get("/api/v1/backups/" + id).then().statusCode(200).extract().jsonPath();
            return "RUNNING".equals(job.getString("status")) ? null : job;
        });
    }
}
