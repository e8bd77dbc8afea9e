package dev.lifeboat.backup;

import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.TempDirs;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/**
 * Test resource: a bin folder whose {@code pg_dump} is the real one, except while the marker file
 * ({@code lifeboat-test.fail-marker}) exists: then it writes part of a dump and exits 1, as a pg_dump that dies
 * midway does. {@code psql} and {@code pg_dumpall} (the roles) are the real ones.
 */
public class FailingPgDumpResource implements QuarkusTestResourceLifecycleManager {
    private Path dir;

    @Override
    public Map<String, String> start() {
        try {
            dir = Files.createTempDirectory("lifeboat-fake-bin-");
            Path real = PostgresServer.binDir();
            Path marker = dir.resolve("fail");
            Path pgDump = dir.resolve("pg_dump");
            Files.writeString(pgDump, """
                    #!/bin/sh
                    # pg_dump that dies midway while the marker file exists
                    if [ -f '%s' ] && [ "$1" != "--version" ]; then
                      printf 'SET statement_timeout = 0;\\nCOPY public.t (a) FROM stdin;\\n1\\n2\\n'
                      head -c 300000 /dev/zero | tr '\\0' 'x'
                      echo "pg_dump: error: simulated failure midway" >&2
                      exit 1
                    fi
                    exec '%s' "$@"
                    """.formatted(marker, real.resolve("pg_dump")));
            Files.setPosixFilePermissions(pgDump, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.createSymbolicLink(dir.resolve("psql"), real.resolve("psql"));
            Files.createSymbolicLink(dir.resolve("pg_dumpall"), real.resolve("pg_dumpall"));
            return Map.of("lifeboat.pg.bin-dirs", dir.toString(), "lifeboat-test.fail-marker", marker.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        TempDirs.delete(dir);
    }
}
