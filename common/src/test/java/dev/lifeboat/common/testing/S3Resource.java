package dev.lifeboat.common.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;

/** Quarkus test resource: the in-process S3 server, configured as Lifeboat's store with 5 MiB parts. */
public class S3Resource implements QuarkusTestResourceLifecycleManager {
    private S3Server server;

    @Override
    public Map<String, String> start() {
        server = S3Server.start();
        return Map.of(
                "lifeboat.store.type", "s3",
                "lifeboat.store.s3.bucket", S3Server.BUCKET,
                "lifeboat.store.s3.prefix", "backups",
                "lifeboat.store.s3.endpoint", server.endpoint(),
                "lifeboat.store.s3.path-style", "true",
                "lifeboat.store.s3.access-key-id", S3Server.ACCESS_KEY,
                "lifeboat.store.s3.secret-access-key", S3Server.SECRET_KEY,
                "lifeboat.store.s3.part-size", Integer.toString(5 * 1024 * 1024));
    }

    @Override
    public void stop() {
        if (server != null) {
            server.close();
        }
    }
}
