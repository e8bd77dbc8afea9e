package dev.lifeboat.backup;

import static io.restassured.RestAssured.given;

import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.store.FilesystemObjectStore;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.PostgresServer;
import io.restassured.response.Response;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.eclipse.microprofile.config.ConfigProvider;

/** What the backup-service tests share: the test database, API calls, and reading a backup back. */
final class BackupTestSupport {
    private BackupTestSupport() {
    }

    /** Every following RestAssured call sends this bearer token. */
    static void useToken(String token) {
        io.restassured.RestAssured.requestSpecification = new io.restassured.builder.RequestSpecBuilder()
                .addHeader("Authorization", "Bearer " + token).build();
    }

    static PostgresServer postgres() {
        return PostgresServer.client(ConfigProvider.getConfig().getValue("lifeboat.databases.main.port", Integer.class));
    }

    static String fixture(String name) throws IOException {
        try (InputStream in = BackupTestSupport.class.getResourceAsStream("/fixtures/" + name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** POST a backup and wait for it. */
    static Response backupAndWait() {
        return given().contentType("application/json").body("{}").post("/api/v1/backups?wait=true");
    }

    static BackupMetadata metadataOf(Response created) throws IOException {
        return Json.read(Json.write(created.jsonPath().getMap("metadata")), BackupMetadata.class);
    }

    static List<String> identities() {
        String files = ConfigProvider.getConfig().getOptionalValue("lifeboat.encryption.identity-files", String.class).orElse("");
        return files.isEmpty() ? List.of() : AgeKeys.readIdentities(List.of(Path.of(files)));
    }

    static Path identityFile() {
        return Path.of(ConfigProvider.getConfig().getValue("lifeboat.encryption.identity-files", String.class));
    }

    /** Streams the stored object back through the reverse codec chain into {@code sink}; returns the stored SHA-256. */
    static String readBack(ObjectStore store, BackupMetadata m, java.io.OutputStream sink) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (InputStream raw = new DigestInputStream(store.open(m.key()), sha);
             InputStream plain = Codec.forReading(m.id(), identities()).decode(raw)) {
            plain.transferTo(sink);
            raw.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** The filesystem store the service is configured with. */
    static FilesystemObjectStore filesystemStore() {
        return new FilesystemObjectStore(Path.of(ConfigProvider.getConfig().getValue("lifeboat.store.filesystem.path", String.class)));
    }

    static Path storeRoot() {
        return Path.of(ConfigProvider.getConfig().getValue("lifeboat.store.filesystem.path", String.class));
    }

    /**
     * Every file under the filesystem store, including temporary ones, but for committed job records
     * ({@code jobs/<kind>/<id>/*.json}): a failed backup keeps its FAILED record there on purpose, so that any replica
     * can say why it failed; "leaves nothing" is about backup data, metadata, roles and partial uploads.
     */
    static List<String> allFiles(Path root) throws IOException {
        try (var s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString())
                    .filter(k -> !(k.startsWith("jobs/") && k.endsWith(".json"))).sorted().toList();
        }
    }

}
