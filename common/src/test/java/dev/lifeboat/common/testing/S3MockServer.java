package dev.lifeboat.common.testing;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.AbortableInputStream;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Adobe S3Mock run as a separate process: the S3-protocol server of the tests that need what s3proxy does not
 * implement (it answers 501 to bucket lifecycle calls; S3Mock stores and returns lifecycle rules as sent). The
 * executable jar ({@code com.adobe.testing:s3mock:<version>:jar:exec}) is copied by common's build into
 * {@code common/target/s3mock/}; it is found there (from any module's working directory), through the system
 * property {@value #JAR_PROPERTY}, or in the local Maven repository. Ports are free ones, data lives in a temporary
 * folder, readiness is polled with a deadline, and {@link #close()} ends the process and its descendants.
 */
public final class S3MockServer implements AutoCloseable {
    public static final String JAR_PROPERTY = "lifeboat.test.s3mock.jar";
    public static final String VERSION = "5.2.0";
    /** S3Mock accepts any credentials; these are what the clients sign with. */
    public static final String ACCESS_KEY = "s3mock-access";
    public static final String SECRET_KEY = "s3mock-secret";
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    private final Process process;
    private final int port;
    private final Path root;

    private S3MockServer(Process process, int port, Path root) {
        this.process = process;
        this.port = port;
        this.root = root;
    }

    /** Starts S3Mock with {@code buckets} created empty, and waits until it answers. */
    public static S3MockServer start(String... buckets) {
        Path root;
        int httpPort;
        int httpsPort;
        try {
            root = Files.createTempDirectory("lifeboat-s3mock");
            httpPort = PostgresServer.freePort();
            httpsPort = PostgresServer.freePort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-jar", jar().toString(),
                "--http.port=" + httpPort, "--server.port=" + httpsPort,
                "--com.adobe.testing.s3mock.store.root=" + root.resolve("data"),
                "--com.adobe.testing.s3mock.store.retain-files-on-exit=false"));
        if (buckets.length > 0) {
            command.add("--com.adobe.testing.s3mock.store.initial-buckets=" + String.join(",", buckets));
        }
        Process process;
        try {
            process = new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true)
                    .redirectOutput(root.resolve("s3mock.log").toFile()).start();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot start S3Mock", e);
        }
        S3MockServer server = new S3MockServer(process, httpPort, root);
        try {
            server.awaitReady();
        } catch (RuntimeException | Error e) {
            server.close();
            throw e;
        }
        return server;
    }

    /** The executable jar: the system property, common's build output, or the local Maven repository. */
    static Path jar() {
        String configured = System.getProperty(JAR_PROPERTY);
        List<Path> candidates = new ArrayList<>();
        if (configured != null && !configured.isBlank()) {
            candidates.add(Path.of(configured));
        }
        Path dir = Path.of("").toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            candidates.add(d.resolve("common/target/s3mock/s3mock-exec.jar"));
            candidates.add(d.resolve("target/s3mock/s3mock-exec.jar"));
        }
        String repo = System.getProperty("maven.repo.local",
                Path.of(System.getProperty("user.home"), ".m2", "repository").toString());
        candidates.add(Path.of(repo, "com", "adobe", "testing", "s3mock", VERSION, "s3mock-" + VERSION + "-exec.jar"));
        return candidates.stream().filter(Files::isRegularFile).findFirst().orElseThrow(() -> new IllegalStateException(
                "S3Mock's executable jar not found (build common, whose build copies it, or set -D" + JAR_PROPERTY
                        + "); looked at " + candidates));
    }

    private void awaitReady() {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("S3Mock exited with " + process.exitValue() + "; see " + log());
            }
            try {
                HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create(endpoint() + "/"))
                        .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.discarding());
                if (response.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("Interrupted while waiting for S3Mock", e);
            }
            try {
                process.waitFor(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("Interrupted while waiting for S3Mock", e);
            }
        }
        throw new IllegalStateException("S3Mock did not answer within " + READY_TIMEOUT + "; see " + log());
    }

    /** {@code http://127.0.0.1:port}. */
    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** The server's output, for failure messages. */
    public Path log() {
        return root.resolve("s3mock.log");
    }

    /**
     * A path-style client of this server, with {@code interceptors} (e.g. to count requests) and the
     * {@link AndTagsShim}, without which S3Mock 5.2.0 would drop the tags of lifecycle rule filters.
     */
    public S3Client client(ExecutionInterceptor... interceptors) {
        return S3Client.builder().httpClient(new AndTagsShim(UrlConnectionHttpClient.builder().build()))
                .endpointOverride(URI.create(endpoint())).region(Region.US_EAST_1).forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .overrideConfiguration(o -> {
                    for (ExecutionInterceptor i : interceptors) {
                        o.addExecutionInterceptor(i);
                    }
                })
                .build();
    }

    /**
     * S3Mock 5.2.0 deviates from the S3 XML of lifecycle filters: AWS (and the SDK) write the tags of an {@code And}
     * filter as repeated {@code <Tag><Key/><Value/></Tag>} elements, S3Mock reads and writes them as
     * {@code <Tags><Key/><Value/></Tags>} and silently drops {@code <Tag>} (checked with curl against the jar). This
     * HTTP client wrapper translates the element name both ways on {@code ?lifecycle} requests only, so the rules
     * Lifeboat sends in AWS's format are stored and read back whole; every other request passes untouched. (At the
     * HTTP client, because the SDK fixes the body's length after the interceptors run.)
     */
    static final class AndTagsShim implements SdkHttpClient {
        private final SdkHttpClient delegate;

        AndTagsShim(SdkHttpClient delegate) {
            this.delegate = delegate;
        }

        private static boolean lifecycle(SdkHttpRequest request) {
            return request.rawQueryParameters().containsKey("lifecycle");
        }

        @Override
        public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
            SdkHttpRequest http = request.httpRequest();
            if (!lifecycle(http)) {
                return delegate.prepareRequest(request);
            }
            HttpExecuteRequest sent = request;
            if (http.method() == SdkHttpMethod.PUT && request.contentStreamProvider().isPresent()) {
                byte[] body = rewrite(request.contentStreamProvider().get().newStream(), "<Tag>", "<Tags>", "</Tag>", "</Tags>");
                sent = HttpExecuteRequest.builder().request(http.toBuilder()
                                .putHeader("Content-Length", String.valueOf(body.length)).removeHeader("Content-MD5").build())
                        .contentStreamProvider(() -> new ByteArrayInputStream(body))
                        .metricCollector(request.metricCollector().orElse(null)).build();
            }
            ExecutableHttpRequest call = delegate.prepareRequest(sent);
            return new ExecutableHttpRequest() {
                @Override
                public HttpExecuteResponse call() throws IOException {
                    HttpExecuteResponse response = call.call();
                    if (http.method() != SdkHttpMethod.GET || !response.httpResponse().isSuccessful()
                            || response.responseBody().isEmpty()) {
                        return response;
                    }
                    byte[] body = rewrite(response.responseBody().get(), "<Tags>", "<Tag>", "</Tags>", "</Tag>");
                    return HttpExecuteResponse.builder().response(response.httpResponse().toBuilder()
                                    .putHeader("Content-Length", String.valueOf(body.length)).build())
                            .responseBody(AbortableInputStream.create(new ByteArrayInputStream(body))).build();
                }

                @Override
                public void abort() {
                    call.abort();
                }
            };
        }

        private static byte[] rewrite(InputStream in, String open, String newOpen, String close, String newClose) {
            try (in) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace(open, newOpen)
                        .replace(close, newClose).getBytes(StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public String clientName() {
            return delegate.clientName();
        }

        @Override
        public void close() {
            delegate.close();
        }
    }

    @Override
    public void close() {
        List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
        tree.add(process.toHandle());
        tree.forEach(ProcessHandle::destroy);
        for (ProcessHandle p : tree) {
            try {
                p.onExit().get(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                p.destroyForcibly();
            }
        }
        TempDirs.delete(root);
    }
}
