package dev.lifeboat.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The settings the chart renders are the settings the services run with. The chart is rendered for a test
 * "cluster" (the test's PostgreSQL and S3 server as the database, targets and store; a fabric8 mock API server);
 * each service is started as a process with exactly its ConfigMap's application.properties and, for its *-file
 * settings, exactly the files its Deployment mounts from Secrets (built here from the projected volume, as the
 * kubelet would). Only what a cluster provides is rewritten: the Secrets' mount point, the peers' Service URLs,
 * the ports, and the API server's address. Since every service refuses unknown lifeboat.* keys, a key the chart
 * renders that a service does not know fails here. Then a backup, its automatic verification and an in-place
 * restore run through the rendered wiring (tokens and roles between the services, workload scaling under the
 * rendered Role), and the services' metrics are checked against the alert rules and the dashboard.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RenderedConfigStackTest {
    private static final List<String> SERVICES = ChartRenderTest.SERVICES;
    private static final Duration DEADLINE = Duration.ofMinutes(3);

    private static PostgresServer postgres;
    private static S3Server s3;
    private static KubernetesMockServer kubernetes;
    private static KubernetesClient kube;
    private static Path work;
    private static Manifests manifests;
    private static final Map<String, Map<String, String>> secrets = new HashMap<>();
    private static final Map<String, int[]> ports = new LinkedHashMap<>();
    private static final Map<String, ServiceProcess> processes = new LinkedHashMap<>();
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void startTheRenderedStack() throws Exception {
        postgres = PostgresServer.start();
        postgres.createDatabase("shop");
        postgres.psql("shop", "CREATE TABLE orders (id int PRIMARY KEY, item text);"
                + "INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 2000) g;");
        s3 = S3Server.start();
        kubernetes = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(List.of()), false);
        kubernetes.init();
        kube = kubernetes.createClient();
        kube.apps().deployments().inNamespace("shop").resource(new DeploymentBuilder()
                .withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                .withNewSpec().withReplicas(2).withNewSelector().addToMatchLabels("app", "web").endSelector()
                .withNewTemplate().withNewMetadata().addToLabels("app", "web").endMetadata()
                .withNewSpec().addNewContainer().withName("web").withImage("shop/web").endContainer().endSpec()
                .endTemplate().endSpec().build()).create();
        kube.apps().statefulSets().inNamespace("shop").resource(new StatefulSetBuilder()
                .withNewMetadata().withName("cache").withNamespace("shop").endMetadata()
                .withNewSpec().withReplicas(1).withNewSelector().addToMatchLabels("app", "cache").endSelector()
                .withNewTemplate().withNewMetadata().addToLabels("app", "cache").endMetadata()
                .withNewSpec().addNewContainer().withName("cache").withImage("shop/cache").endContainer().endSpec()
                .endTemplate().endSpec().build()).create();
        drainKubernetesRequests(); // the test's own; from here on only restore-service talks to the API server
        work = Files.createTempDirectory("lifeboat-rendered-stack-");

        // the Secrets the README tells an operator to create, with the test's credentials
        String[] age = AgeKeys.generate();
        secrets.put("shop-db", Map.of("password", PostgresServer.PASSWORD));
        secrets.put("lifeboat-s3", Map.of("access-key-id", S3Server.ACCESS_KEY, "secret-access-key", S3Server.SECRET_KEY));
        secrets.put("lifeboat-age", Map.of("identity.txt", "# public key: " + age[0] + "\n" + age[1] + "\n"));
        Map<String, String> tokens = new TreeMap<>();
        for (String key : List.of("backup-service", "restore-service", "verify-service", "ops", "oncall")) {
            tokens.put(key, token());
        }
        secrets.put("lifeboat-api-tokens", tokens);
        secrets.put("lifeboat-integrity", Map.of("keys", "k1=" + token() + "\n"));

        String pg = Integer.toString(postgres.port());
        manifests = Manifests.parse(Chart.render("""
                global:
                  databases:
                    main: {host: "%1$s", port: %2$s, database: shop, existingSecret: shop-db, retention: {keepLast: 10, schedule: "0 45 3 * * ?"}, pitr: {enabled: true}}
                  targets:
                    primary:
                      host: "%1$s"
                      port: %2$s
                      database: shop
                      existingSecret: shop-db
                      databaseLabel: main
                      workloads: {namespace: shop, deployments: [web], statefulsets: [cache]}
                    scratch: {host: "%1$s", port: %2$s, database: postgres, existingSecret: shop-db, scratch: true}
                  store:
                    s3:
                      bucket: %3$s
                      endpoint: "%4$s"
                      pathStyle: true
                      existingSecret: lifeboat-s3
                      archive: {tier: Bulk, days: 2, pollInterval: 30s, timeout: 24h}
                    integrity: {existingSecret: lifeboat-integrity}
                    retry: {maxAttempts: 4, initialBackoff: 100ms, maxBackoff: 5s, maxTotal: 1m}
                    prices: {standard: 0.02}
                  retention: {enabled: true, daily: 7, weekly: 4, safetyMaxAge: 3d}
                  encryption:
                    recipients: [%5$s]
                    existingSecret: lifeboat-age
                  auth:
                    clients:
                      ops: {roles: [viewer, operator]}
                      oncall: {roles: [viewer, restorer]}
                """.formatted(postgres.host(), pg, S3Server.BUCKET, s3.endpoint(), age[0])));

        for (String service : SERVICES) {
            ports.put(service, new int[] {PostgresServer.freePort(), PostgresServer.freePort()});
        }
        for (String service : SERVICES) {
            processes.put(service, start(service, Map.of()));
        }
    }

    /** Starts {@code service} with its rendered settings (cluster specifics rewritten) plus {@code extra}. */
    private static ServiceProcess start(String service, Map<String, String> extra) throws IOException {
        Path secretsDir = mountSecrets(service);
        Map<String, String> settings = new TreeMap<>();
        manifests.settings(service).forEach((key, value) -> {
            String v = value.replace(ChartRenderTest.SECRETS_DIR, secretsDir.toString());
            for (String peer : SERVICES) {
                v = v.replace("http://lifeboat-" + peer + "." + Chart.NAMESPACE + ".svc:8080",
                        "http://127.0.0.1:" + ports.get(peer)[0]);
            }
            settings.put(key, v);
        });
        assertThat(settings).containsEntry("quarkus.http.port", "8080"); // replaced by ServiceProcess's own ports
        // the pod's emptyDirs: folders of the test's own
        for (String spool : List.of("lifeboat.pitr.spool-dir", "lifeboat.restore.pitr.spool-dir")) {
            if (settings.containsKey(spool)) {
                settings.put(spool, Files.createDirectories(work.resolve(service + "-" + spool)).toString());
            }
        }
        if (service.equals("restore-service")) {
            // in a pod the client finds the API server through the service account; here it is the mock server
            settings.put("quarkus.kubernetes-client.api-server-url", kubernetes.url("/"));
        }
        settings.putAll(extra);
        int[] p = ports.get(service);
        return ServiceProcess.start(service, settings, p[0], p[1]);
    }

    /**
     * The files the kubelet would project from the Secrets into the service's pod: every item of the Deployment's
     * projected volume, under a folder standing for its mount point. A Secret or key the test did not create fails.
     */
    private static Path mountSecrets(String service) throws IOException {
        Path dir = Files.createTempDirectory(work, service + "-secrets-");
        ChartRenderTest.secretFiles(manifests.deployment(service)).forEach((path, ref) -> {
            String secret = ref.substring(0, ref.indexOf(':'));
            String key = ref.substring(ref.indexOf(':') + 1);
            assertThat(secrets).as("Secret %s", secret).containsKey(secret);
            assertThat(secrets.get(secret)).as("key %s of Secret %s", key, secret).containsKey(key);
            Path file = dir.resolve(path.substring(ChartRenderTest.SECRETS_DIR.length() + 1));
            try {
                Files.createDirectories(file.getParent());
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(file, secrets.get(secret).get(key));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        return dir;
    }

    @AfterAll
    static void stopEverything() {
        processes.values().forEach(ServiceProcess::close);
        if (kube != null) {
            kube.close();
        }
        if (kubernetes != null) {
            kubernetes.destroy();
        }
        if (s3 != null) {
            s3.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        TempDirs.delete(work);
    }

    @Test
    @Order(1)
    void everyServiceIsReadyWithItsRenderedSettingsAndAnswersTheProbesTheChartConfigures() throws Exception {
        for (String service : SERVICES) {
            ServiceProcess process = processes.get(service);
            Container c = manifests.deployment(service).getSpec().getTemplate().getSpec().getContainers().get(0);
            for (Probe probe : List.of(c.getStartupProbe(), c.getLivenessProbe(), c.getReadinessProbe())) {
                assertThat(probe.getHttpGet().getPort()).isEqualTo(new IntOrString("management"));
                HttpResponse<String> r = get(process.managementUrl() + probe.getHttpGet().getPath(), null);
                assertThat(r.statusCode()).as("%s %s", service, probe.getHttpGet().getPath()).isEqualTo(200);
            }
            assertThat(process.log()).as(service).doesNotContain("Unrecognized configuration key");
        }
    }

    @Test
    @Order(2)
    void aSettingTheServiceDoesNotKnowStopsItAtStartUp() {
        // what makes the test above meaningful: a key the chart rendered wrongly would not have started
        int[] saved = ports.get("backup-service");
        try {
            ports.put("backup-service", new int[] {PostgresServer.freePort(), PostgresServer.freePort()});
            assertThatThrownBy(() -> start("backup-service", Map.of("lifeboat.backup.shedule", "0 0 3 * * ?")).close())
                    .hasMessageContaining("lifeboat.backup.shedule");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } finally {
            ports.put("backup-service", saved);
        }
    }

    @Test
    @Order(3)
    void aBackupItsAutomaticVerificationAndAnInPlaceRestoreRunThroughTheRenderedWiring() throws Exception {
        String ops = secrets.get("lifeboat-api-tokens").get("ops");
        String oncall = secrets.get("lifeboat-api-tokens").get("oncall");

        // ops (operator) takes a backup; backup-service announces it to verify-service with its own token
        HttpResponse<String> backup = post(url("backup-service", "/api/v1/backups?wait=true"), ops, "{\"database\": \"main\"}");
        assertThat(backup.statusCode()).as(backup.body()).isEqualTo(201);
        String id = json(backup).get("id").asText();

        // verify-service restores it into the scratch target through restore-service, with its own token
        JsonNode passed = await(() -> {
            JsonNode list = json(get(url("verify-service", "/api/v1/verifications?backupId=" + id), ops));
            for (JsonNode v : list) {
                if ("full".equalsIgnoreCase(v.path("level").asText()) && !v.path("result").isMissingNode()
                        && !v.path("result").isNull()) {
                    return v;
                }
            }
            return null;
        }, "a full verification of " + id);
        assertThat(passed.get("result").asText()).as(passed.toString()).isEqualTo("PASSED");

        // oncall (restorer) restores in place: restore-service takes a safety backup through backup-service with its
        // own token, scales the workloads down under the rendered Role, restores, scales back
        postgres.psql("shop", "DELETE FROM orders WHERE id > 10");
        HttpResponse<String> restore = post(url("restore-service", "/api/v1/restores?wait=true"), oncall,
                "{\"backupId\": \"" + id + "\", \"target\": \"primary\"}");
        assertThat(restore.statusCode()).as(restore.body()).isEqualTo(201);
        assertThat(json(restore).get("status").asText()).isEqualTo("COMPLETED");
        assertThat(json(restore).path("safetyBackupId").asText()).startsWith("main_backup_");
        assertThat(postgres.psql("shop", "SELECT count(*) FROM orders")).isEqualTo("2000");

        // restore-service's Kubernetes API calls since it started (start-up recovery, then the restore) are exactly
        // what the rendered Role allows in the workloads' namespace, and the Role allows no more
        Map<String, Set<String>> used = drainKubernetesRequests();
        Role role = manifests.all(Role.class).stream().filter(r -> "shop".equals(r.getMetadata().getNamespace()))
                .findFirst().orElseThrow();
        assertThat(used).isEqualTo(ChartRenderTest.grants(role.getRules()));
        assertThat(kube.apps().deployments().inNamespace("shop").withName("web").get().getSpec().getReplicas()).isEqualTo(2);
        assertThat(kube.apps().statefulSets().inNamespace("shop").withName("cache").get().getSpec().getReplicas()).isEqualTo(1);

        // the rendered retention policy (global.retention under the database's own keys) is the one backup-service
        // plans with; it keeps both backups (the daily rule, and min-keep)
        HttpResponse<String> plan = get(url("backup-service", "/api/v1/retention/plan?database=main"), ops);
        assertThat(plan.statusCode()).as(plan.body()).isEqualTo(200);
        JsonNode policy = json(plan).get(0).get("policy");
        assertThat(policy.get("enabled").asBoolean()).as(plan.body()).isTrue();
        assertThat(policy.get("keepLast").asInt()).as(plan.body()).isEqualTo(10);
        assertThat(policy.get("daily").asInt()).as(plan.body()).isEqualTo(7);
        assertThat(policy.get("weekly").asInt()).as(plan.body()).isEqualTo(4);
        assertThat(json(plan).get(0).get("delete").asInt()).as(plan.body()).isZero();

    }

    @Test
    @Order(4)
    void metricsAfterABackupARestoreAndAVerificationPassPromtoolAndHoldEverySeriesTheAlertsAndDashboardRead()
            throws Exception {
        Monitoring monitoring = Monitoring.rendered();
        StringBuilder all = new StringBuilder();
        for (String service : SERVICES) {
            String text = get(processes.get(service).managementUrl() + "/q/metrics", null).body();
            Monitoring.Result check = Monitoring.promtool(work, Monitoring.classicCounterFamilies(text), "check", "metrics");
            // the whole exposition parses (a parse error would fail every scrape of a text-format scraper) ...
            assertThat(check.output()).as("promtool check metrics of %s:\n%s%s", service, check.output(),
                    lineNamedIn(check.output(), text)).doesNotContain("error while linting");
            // ... and Lifeboat's own metrics lint clean; what promtool says of Quarkus' and Micrometer's built-in
            // meters (camelCase labels, empty HELP, unit abbreviations) is theirs, and shown
            List<String> problems = check.output().lines().filter(l -> !l.isBlank()).toList();
            assertThat(problems).as("promtool check metrics of %s", service).noneMatch(l -> l.startsWith("lifeboat_"));
            if (!problems.isEmpty()) {
                System.out.printf("promtool check metrics of %s, findings on built-in meters:%n  %s%n", service,
                        String.join("\n  ", problems));
            }
            all.append(text);
        }
        Matcher help = Pattern.compile("(?m)^# HELP (lifeboat_[a-z0-9_]+) ?(.*)$").matcher(all);
        Set<String> documented = new TreeSet<>();
        while (help.find()) {
            assertThat(help.group(2)).as("HELP of %s", help.group(1)).isNotBlank();
            documented.add(help.group(1));
        }
        assertThat(documented).as("Lifeboat metrics with HELP text").hasSizeGreaterThan(15);

        Set<String> exposed = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]").matcher(all);
        while (m.find()) {
            exposed.add(m.group(1));
        }
        Set<String> missing = new TreeSet<>(monitoring.metricNames());
        missing.removeAll(exposed);
        assertThat(missing).as("series the alert rules or the dashboard read that no service exposes").isEmpty();
    }

    @Test
    @Order(5)
    void livenessNeverDependsOnTheStoreOrTheDatabaseWhileReadinessFollowsTheStore() throws Exception {
        s3.close();
        postgres.close();
        for (String service : SERVICES) {
            String management = processes.get(service).managementUrl();
            await(() -> get(management + "/q/health/ready", null).statusCode() == 503 ? Boolean.TRUE : null,
                    service + " not ready without its store");
            assertThat(get(management + "/q/health/live", null).statusCode()).as(service).isEqualTo(200);
        }
    }

    /** The line of {@code text} a promtool message points at ("... in line N: ..."), to show it in a failure. */
    private static String lineNamedIn(String message, String text) {
        Matcher m = Pattern.compile("line (\\d+)").matcher(message);
        if (!m.find()) {
            return "";
        }
        List<String> lines = text.lines().toList();
        int n = Integer.parseInt(m.group(1));
        return n >= 1 && n <= lines.size() ? "line " + n + ": " + lines.get(n - 1) : "";
    }

    /** What restore-service asked of the API server since the last drain: "group/resource" → RBAC verbs. */
    private static Map<String, Set<String>> drainKubernetesRequests() throws InterruptedException {
        Pattern path = Pattern.compile("^/(?:api/v1|apis/([a-z0-9.]+)/v[0-9a-z]+)/namespaces/[^/]+/([a-z]+)(/[^/?]+)?(/[a-z]+)?(\\?.*)?$");
        Map<String, Set<String>> used = new TreeMap<>();
        RecordedRequest r;
        while ((r = kubernetes.takeRequest(1, TimeUnit.MILLISECONDS)) != null) {
            Matcher m = path.matcher(r.getPath());
            assertThat(m.matches()).as("a namespaced resource request: %s %s", r.getMethod(), r.getPath()).isTrue();
            String resource = (m.group(1) == null ? "" : m.group(1)) + "/" + m.group(2)
                    + (m.group(4) == null ? "" : m.group(4));
            boolean named = m.group(3) != null;
            boolean watch = m.group(5) != null && m.group(5).contains("watch=true");
            String verb = switch (r.getMethod()) {
                case "GET" -> watch ? "watch" : named ? "get" : "list";
                case "PATCH" -> "patch";
                case "PUT" -> "update";
                case "POST" -> "create";
                case "DELETE" -> named ? "delete" : "deletecollection";
                default -> throw new AssertionError("unexpected " + r.getMethod() + " " + r.getPath());
            };
            used.computeIfAbsent(resource, k -> new TreeSet<>()).add(verb);
        }
        return used;
    }

    private static String url(String service, String path) {
        return processes.get(service).apiUrl() + path;
    }

    private static HttpResponse<String> get(String url, String token) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET();
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(String url, String token, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(5))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> r) throws IOException {
        return new ObjectMapper().readTree(r.body());
    }

    /** Polls until {@code condition} returns non-null, failing after {@link #DEADLINE}. */
    private static <T> T await(Callable<T> condition, String what) {
        return Poll.value(what, DEADLINE, condition);
    }

    private static String token() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
