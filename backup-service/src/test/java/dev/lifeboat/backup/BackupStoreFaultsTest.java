package dev.lifeboat.backup;

import static dev.lifeboat.backup.BackupTestSupport.backupAndWait;
import static dev.lifeboat.backup.BackupTestSupport.metadataOf;
import static dev.lifeboat.backup.BackupTestSupport.postgres;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.S3ObjectStore;
import dev.lifeboat.common.testing.AgeKeyResource;
import dev.lifeboat.common.testing.PostgresResource;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3FaultProxy;
import dev.lifeboat.common.testing.S3FaultProxy.Call;
import dev.lifeboat.common.testing.S3FaultProxy.Rule;
import dev.lifeboat.common.testing.S3Resource;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.ResourceArg;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.URL;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Backups into S3 through {@link S3FaultProxy}: part uploads and completions that meet 503 SlowDown, 500, 429 and
 * connection resets (some after the server did the work) are retried and the stored object is byte-identical to the
 * dump; a 403 fails the backup at once, with a message naming access denied, and leaves nothing.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@WithTestResource(value = S3Resource.class, initArgs = @ResourceArg(name = S3Resource.FAULT_PROXY, value = "true"))
@WithTestResource(AgeKeyResource.class)
@WithTestResource(TokenResource.class)
class BackupStoreFaultsTest {
    /** The data object of a backup of {@code main}, not its metadata. */
    static final String DATA = "/database/main/main_backup_[^/]*\\.age$";

    @Inject
    ObjectStore store;

    @TestHTTPResource(value = "metrics", management = true)
    URL metrics;

    @BeforeAll
    static void enoughDataForSeveralParts() {
        PostgresServer pg = postgres();
        if (pg.psql("app", "SELECT to_regclass('public.noise') IS NULL").equals("t")) {
            pg.psql("app", "CREATE TABLE noise (id int, a text, b text); INSERT INTO noise SELECT g, "
                    + "md5(random()::text) || md5(random()::text), md5(random()::text) FROM generate_series(1, 450000) g");
        }
    }

    @BeforeEach
    void asOperator() {
        BackupTestSupport.useToken(TokenResource.OPERATOR);
        S3Resource.faultProxy().resetCounts();
    }

    @AfterEach
    void noFaults() {
        S3Resource.faultProxy().clearRules();
    }

    @Test
    void transientStoreFaultsAreRetriedAndTheStoredObjectIsByteIdentical() throws Exception {
        S3FaultProxy proxy = S3Resource.faultProxy();
        List<Rule> rules = List.of(
                proxy.on(Call.CREATE_UPLOAD).key(DATA).respond(429, "TooManyRequests"),
                proxy.on(Call.UPLOAD_PART).key(DATA).skip(1).respond(503, "SlowDown"),
                proxy.on(Call.UPLOAD_PART).key(DATA).skip(3).reset(),
                proxy.on(Call.UPLOAD_PART).key(DATA).skip(5).respondAfterForwarding(500, "InternalError"),
                // the server completes the data object, the client's connection is reset before the answer
                proxy.on(Call.COMPLETE_UPLOAD).key(DATA).resetAfterForwarding(),
                proxy.on(Call.COMPLETE_UPLOAD).key("/metadata/").respondAfterForwarding(503, "SlowDown"));

        Response created = backupAndWait();
        created.then().statusCode(201);
        proxy.clearRules();
        for (Rule rule : rules) {
            assertThat(rule.fired()).as(rule.toString()).isEqualTo(1);
        }

        BackupMetadata m = metadataOf(created);
        assertThat(m.storedSizeBytes()).as("at least 4 parts of 5 MiB").isGreaterThan(3L * S3ObjectStore.MIN_PART_SIZE);
        assertThat(store.stat(m.key()).orElseThrow().size()).isEqualTo(m.storedSizeBytes());
        ByteArrayOutputStream dump = new ByteArrayOutputStream();
        assertThat(BackupTestSupport.readBack(store, m, dump)).as("SHA-256 of the stored bytes").isEqualTo(m.sha256());
        PostgresServer pg = postgres();
        pg.createDatabase("copy_faults");
        pg.load("copy_faults", new ByteArrayInputStream(dump.toByteArray()));
        assertThat(pg.pgDump("copy_faults")).isEqualTo(pg.pgDump("app"));
        assertThat(store.pending("")).as("no multipart upload left").isEmpty();

        String body = given().get(metrics).asString();
        assertThat(body).contains("# HELP lifeboat_store_retries Object store requests retried");
        assertThat(counter(body, "lifeboat_store_retries_total", "operation=\"upload_part\"")).isGreaterThanOrEqualTo(3);
        assertThat(counter(body, "lifeboat_store_retries_total", "operation=\"commit\"")).isGreaterThanOrEqualTo(2);
        assertThat(counter(body, "lifeboat_store_retries_total", "operation=\"start_upload\"")).isGreaterThanOrEqualTo(1);
        assertThat(counter(body, "lifeboat_store_requests_total", "operation=\"upload_part\",outcome=\"transient\""))
                .isGreaterThanOrEqualTo(3);
    }

    @Test
    void accessDeniedFailsTheBackupAtOnceAndLeavesNothing() throws Exception {
        S3FaultProxy proxy = S3Resource.faultProxy();
        List<ObjectStore.ObjectInfo> before = store.list("database/");
        // the data object's parts only: the job's own record (a small upload under jobs/) must still be written
        Rule denied = proxy.on(Call.UPLOAD_PART).key("database/").always().respond(403, "AccessDenied");

        Response failed = backupAndWait();
        failed.then().statusCode(500).contentType("application/problem+json")
                .body("detail", containsString("S3 access denied for UploadPart"))
                .body("detail", containsString("s3:PutObject"));
        String id = failed.header("Location").replaceAll(".*/", "");
        given().get("/api/v1/backups/" + id).then().statusCode(200)
                .body("status", equalTo("FAILED")).body("error", containsString("access denied"));
        assertThat(denied.fired()).as("one request, not retried").isEqualTo(1);
        assertThat(denied.matched()).as("no other part of the data object was sent").isEqualTo(1);

        proxy.clearRules();
        assertThat(store.list("database/")).isEqualTo(before);
        assertThat(store.pending("")).as("no multipart upload left").isEmpty();
    }

    /** The value of a Prometheus counter series whose labels contain {@code labels}; 0 when absent. */
    private static double counter(String body, String name, String labels) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\{[^}]*" + Pattern.quote(labels) + "[^}]*} ([0-9.eE+]+)$").matcher(body);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }
}
