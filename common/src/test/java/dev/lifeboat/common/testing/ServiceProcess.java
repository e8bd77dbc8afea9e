package dev.lifeboat.common.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * One Lifeboat service running as a real process from its built application
 * ({@code <module>/target/quarkus-app/quarkus-run.jar}), the way it runs in production. Its configuration is
 * written to {@code config/application.properties} (0600) in a temporary working directory; API and management
 * ports are picked free. {@link #start} returns when the service reports ready.
 */
public final class ServiceProcess implements AutoCloseable {
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
    private final String module;
    private final Path workDir;
    private final Map<String, String> properties;
    private final int apiPort;
    private final int managementPort;
    private Process process;
    /** The OS user the service runs as (from root, through setpriv); null: this process's user. */
    private String user;

    private ServiceProcess(String module, Path workDir, Map<String, String> properties, int apiPort, int managementPort) {
        this.module = module;
        this.workDir = workDir;
        this.properties = properties;
        this.apiPort = apiPort;
        this.managementPort = managementPort;
    }

    /** Starts {@code module} (e.g. {@code backup-service}) with {@code properties} and waits until it is ready. */
    public static ServiceProcess start(String module, Map<String, String> properties) {
        try {
            return start(module, properties, PostgresServer.freePort(), PostgresServer.freePort());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Starts {@code module} on ports chosen by the caller (from {@link PostgresServer#freePort()}), for services
     * whose peers' URLs must be known before any of them starts.
     */
    public static ServiceProcess start(String module, Map<String, String> properties, int api, int management) {
        try {
            Path jar = locate(module);
            Path work = Files.createTempDirectory("lifeboat-" + module + "-");
            Map<String, String> all = new TreeMap<>(properties);
            all.put("quarkus.http.host", "127.0.0.1");
            all.put("quarkus.http.port", Integer.toString(api));
            all.put("quarkus.management.host", "127.0.0.1");
            all.put("quarkus.management.port", Integer.toString(management));
            ServiceProcess service = new ServiceProcess(module, work, all, api, management);
            service.launch(jar);
            return service;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * As {@link #start(String, Map)}, the service running as the OS user {@code user} (when this JVM is root, as in
     * CI, through {@code setpriv}, which execs the JVM itself, so signals reach it directly), its working directory
     * owned by that user: for a service that starts PostgreSQL servers, which refuse to run as root.
     */
    public static ServiceProcess startAs(String user, String module, Map<String, String> properties) {
        try {
            Path jar = locate(module);
            Path work = Files.createTempDirectory("lifeboat-" + module + "-");
            Map<String, String> all = new TreeMap<>(properties);
            int api = PostgresServer.freePort();
            int management = PostgresServer.freePort();
            all.put("quarkus.http.host", "127.0.0.1");
            all.put("quarkus.http.port", Integer.toString(api));
            all.put("quarkus.management.host", "127.0.0.1");
            all.put("quarkus.management.port", Integer.toString(management));
            ServiceProcess service = new ServiceProcess(module, work, all, api, management);
            service.user = "root".equals(System.getProperty("user.name")) ? user : null;
            service.launch(jar);
            return service;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The built application of {@code module}, searched from the working directory upwards. */
    static Path locate(String module) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path jar = dir.resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
            if (Files.isRegularFile(jar)) {
                return jar;
            }
        }
        throw new IllegalStateException(module + " is not built: run ./mvnw -B -DskipTests package -pl " + module
                + " (the full build does it before this module's tests)");
    }

    private void launch(Path jar) throws IOException {
        Path config = workDir.resolve("config");
        Files.createDirectories(config);
        Path file = config.resolve("application.properties");
        if (!Files.exists(file)) {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            StringBuilder props = new StringBuilder();
            properties.forEach((k, v) -> props.append(k).append('=').append(v.replace("\\", "\\\\")).append('\n'));
            Files.writeString(file, props.toString());
        }
        List<String> command = new ArrayList<>();
        if (user != null) {
            java.nio.file.attribute.UserPrincipal owner = workDir.getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByName(user);
            try (java.util.stream.Stream<Path> s = Files.walk(workDir)) {
                for (Path p : s.toList()) {
                    Files.setOwner(p, owner);
                }
            }
            command.addAll(List.of("setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--"));
        }
        command.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-jar", jar.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectErrorStream(true).redirectOutput(workDir.resolve("service.log").toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("PG") || k.startsWith("LIFEBOAT_") || k.startsWith("QUARKUS_"));
        if (user != null) {
            builder.environment().put("HOME", workDir.toString());
        }
        process = builder.start();
        awaitReady();
    }

    private void awaitReady() {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                String log = log(); // before close() removes the working directory
                close();
                throw new IllegalStateException(module + " exited with " + process.exitValue() + " at start-up:\n" + log);
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(managementUrl() + "/q/health/ready"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            sleep(200);
        }
        String log = log(); // before close() removes the working directory
        close();
        throw new IllegalStateException(module + " was not ready within " + READY_TIMEOUT + ":\n" + log);
    }

    /** The API base URL, e.g. {@code http://127.0.0.1:41234}. */
    public String apiUrl() {
        return "http://127.0.0.1:" + apiPort;
    }

    /** The management base URL (health, metrics, OpenAPI). */
    public String managementUrl() {
        return "http://127.0.0.1:" + managementPort;
    }

    /** What the service logged so far. */
    public String log() {
        try {
            return Files.readString(workDir.resolve("service.log"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Whether the process is running (false once it exited or was killed). */
    public boolean alive() {
        return process != null && process.isAlive();
    }

    /** Stops the service abruptly (SIGKILL), as a crash would; the working directory stays for a restart. */
    public void kill() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            waitFor();
        }
    }

    /** Starts the service again after {@link #kill()} or {@link #stop()}, same configuration and ports. */
    public void restart() {
        try {
            launch(locate(module));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stops the service gracefully (SIGTERM), killing it after 20 s. */
    public void stop() {
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(20, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
            waitFor();
        }
    }

    private void waitFor() {
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stop();
        TempDirs.delete(workDir);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
