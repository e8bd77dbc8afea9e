package dev.lifeboat.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeProjection;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.Rule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chart rendered with its default values and with every toggle on (ci/all-on-values.yaml), parsed into typed
 * Kubernetes objects and checked: the Pod Security "restricted" profile on every pod, probes on the management
 * port, Secrets only as files, labels and name lengths, restore-service's Role, the NetworkPolicy peers, and the
 * monitoring objects only when asked for. Bad values must fail rendering with validateValues' message.
 */
class ChartRenderTest {
    static final List<String> SERVICES = List.of("backup-service", "restore-service", "verify-service");
    static final List<String> ALERTS = List.of("LifeboatBackupMissing", "LifeboatBackupFailed",
            "LifeboatBackupToolIncompatible", "LifeboatBackupSizeAnomaly", "LifeboatVerificationFailed",
            "LifeboatBackupMetadataDamaged", "LifeboatVerificationStale",
            "LifeboatRPOBreached", "LifeboatRTOBreached", "LifeboatServiceDown", "LifeboatWalArchiveStalled",
            "LifeboatReplicationSlotLag");
    static final String SECRETS_DIR = "/etc/lifeboat/secrets";
    /**
     * What restore-service does with the Kubernetes API (WorkloadScaler), "group/resource" → verbs;
     * RenderedConfigStackTest records its requests against an API server and compares them with the rendered Role.
     */
    static final Map<String, Set<String>> RESTORE_ROLE = Map.of(
            "apps/deployments", new TreeSet<>(List.of("get", "list", "patch")),
            "apps/statefulsets", new TreeSet<>(List.of("get", "list", "patch")),
            "/pods", new TreeSet<>(List.of("list")));
    /** What every service does with the Leases its replicas coordinate through (common.coord), in the release namespace. */
    static final Map<String, Set<String>> LEASE_ROLE = Map.of(
            "coordination.k8s.io/leases", new TreeSet<>(List.of("create", "get", "update")));

    private static Manifests defaults;
    private static Manifests allOn;

    @BeforeAll
    static void render() {
        defaults = Manifests.parse(Chart.render());
        allOn = Manifests.parse(Chart.render(Chart.allOn()));
    }

    static Stream<Arguments> renders() {
        return Stream.of(Arguments.of("defaults", defaults), Arguments.of("all-on", allOn));
    }

    @Test
    void lintsCleanInStrictModeWithTheDefaultValues() {
        LintResult lint = Chart.lint();
        assertThat(lint.isFailed()).as("helm lint --strict: %s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @Test
    void defaultValuesRenderTheThreeServicesAndNothingElse() {
        List<String> expected = new ArrayList<>();
        for (String kind : List.of("NetworkPolicy", "ServiceAccount", "ConfigMap", "Service", "Deployment")) {
            SERVICES.forEach(s -> expected.add(kind + "/lifeboat-" + s));
        }
        for (String kind : List.of("Role", "RoleBinding")) {
            SERVICES.forEach(s -> expected.add(kind + "/lifeboat-" + s + "-leases"));
        }
        assertThat(defaults.kindsAndNames()).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void everyToggleOnRendersTheMonitoringObjectsRolesAndBudgetsToo() {
        assertThat(allOn.kindsAndNames()).contains("ServiceMonitor/lifeboat", "PrometheusRule/lifeboat",
                "ConfigMap/lifeboat-dashboard (namespace monitoring)", "Role/lifeboat-restore-service (namespace shop)",
                "Role/lifeboat-restore-service (namespace billing)", "RoleBinding/lifeboat-restore-service (namespace shop)",
                "RoleBinding/lifeboat-restore-service (namespace billing)");
        assertThat(allOn.all(PodDisruptionBudget.class)).hasSize(3);
        assertThat(allOn.one(PodDisruptionBudget.class, "lifeboat-backup-service").getSpec().getMinAvailable().getIntVal())
                .isEqualTo(1);
        assertThat(allOn.one(PodDisruptionBudget.class, "lifeboat-verify-service").getSpec().getMaxUnavailable().getIntVal())
                .isEqualTo(1);
        for (String service : SERVICES) {
            PodSpec pod = allOn.deployment(service).getSpec().getTemplate().getSpec();
            assertThat(pod.getTopologySpreadConstraints()).singleElement().satisfies(t -> assertThat(
                    t.getLabelSelector().getMatchLabels()).containsEntry("app.kubernetes.io/name", service));
            assertThat(pod.getVolumes()).extracting(Volume::getName).contains("ca");
            assertThat(pod.getContainers().get(0).getVolumeMounts()).extracting(VolumeMount::getMountPath)
                    .contains("/etc/pki/corporate");
            assertThat(pod.getContainers().get(0).getEnv()).extracting(EnvVar::getName).contains("TZ");
            assertThat(pod.getImagePullSecrets()).extracting(r -> r.getName()).containsExactly("regcred");
            assertThat(pod.getContainers().get(0).getImage()).isEqualTo("registry.example.com/lifeboat/" + service + ":0.1.0");
        }
    }

    @Test
    void imagesDefaultToTheChartsAppVersionWithoutARegistry() throws IOException {
        String appVersion = Files.readAllLines(Chart.dir().resolve("Chart.yaml")).stream()
                .filter(l -> l.startsWith("appVersion:")).findFirst().orElseThrow().replaceAll("[^0-9.]", "");
        for (String service : SERVICES) {
            assertThat(Files.readString(Chart.dir().resolve("charts/" + service + "/Chart.yaml")))
                    .as("%s appVersion follows the umbrella's", service).contains("appVersion: \"" + appVersion + "\"");
            Container c = defaults.deployment(service).getSpec().getTemplate().getSpec().getContainers().get(0);
            assertThat(c.getImage()).isEqualTo("lifeboat/" + service + ":" + appVersion);
            assertThat(c.getImagePullPolicy()).isEqualTo("IfNotPresent");
        }
        Manifests pinned = Manifests.parse(Chart.render("""
                restore-service:
                  image: {registry: ghcr.io/acme, tag: 0.1.1}
                """));
        assertThat(pinned.deployment("restore-service").getSpec().getTemplate().getSpec().getContainers().get(0)
                .getImage()).isEqualTo("ghcr.io/acme/lifeboat/restore-service:0.1.1");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void everyPodMeetsTheRestrictedPodSecurityProfile(String name, Manifests manifests) {
        List<Deployment> deployments = manifests.all(Deployment.class);
        assertThat(deployments).hasSize(3);
        for (Deployment d : deployments) {
            PodSpec pod = d.getSpec().getTemplate().getSpec();
            String where = d.getMetadata().getName();
            PodSecurityContext psc = pod.getSecurityContext();
            assertThat(psc.getRunAsNonRoot()).as(where).isTrue();
            assertThat(psc.getSeccompProfile().getType()).as(where).isEqualTo("RuntimeDefault");
            assertThat(pod.getHostNetwork()).as(where).isNotEqualTo(Boolean.TRUE);
            assertThat(pod.getHostPID()).as(where).isNotEqualTo(Boolean.TRUE);
            assertThat(pod.getHostIPC()).as(where).isNotEqualTo(Boolean.TRUE);
            assertThat(pod.getVolumes()).as(where).allSatisfy(v -> assertThat(v.getHostPath()).isNull());
            List<Container> containers = new ArrayList<>(pod.getContainers());
            if (pod.getInitContainers() != null) {
                containers.addAll(pod.getInitContainers());
            }
            for (Container c : containers) {
                SecurityContext sc = c.getSecurityContext();
                assertThat(sc.getAllowPrivilegeEscalation()).as(where).isFalse();
                assertThat(sc.getPrivileged()).as(where).isNotEqualTo(Boolean.TRUE);
                assertThat(sc.getReadOnlyRootFilesystem()).as(where).isTrue();
                assertThat(sc.getRunAsNonRoot()).as(where).isTrue();
                assertThat(sc.getRunAsUser()).as(where).isNotEqualTo(0L);
                assertThat(sc.getCapabilities().getDrop()).as(where).containsExactly("ALL");
                assertThat(sc.getCapabilities().getAdd()).as(where).isNullOrEmpty();
                assertThat(sc.getSeccompProfile().getType()).as(where).isEqualTo("RuntimeDefault");
                // the read-only root needs a writable, bounded /tmp
                VolumeMount tmp = c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals("/tmp"))
                        .findFirst().orElseThrow();
                Volume volume = pod.getVolumes().stream().filter(v -> v.getName().equals(tmp.getName())).findFirst()
                        .orElseThrow();
                assertThat(volume.getEmptyDir()).as(where).isNotNull();
                assertThat(volume.getEmptyDir().getSizeLimit()).as(where).isNotNull();
            }
            // every service holds Leases through the API (restore-service also scales workloads), so the pod
            // mounts its token; the ServiceAccount itself does not, so no other pod of it gets one
            assertThat(pod.getAutomountServiceAccountToken()).as(where).isTrue();
            assertThat(d.getSpec().getStrategy().getType()).as(where).isEqualTo("RollingUpdate");
            assertThat(d.getSpec().getStrategy().getRollingUpdate().getMaxUnavailable().getIntVal()).isZero();
        }
        assertThat(manifests.all(ServiceAccount.class)).hasSize(3)
                .allSatisfy(sa -> assertThat(sa.getAutomountServiceAccountToken()).isFalse());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void probesUseTheManagementPortAndLivenessOnlyTheProcess(String name, Manifests manifests) {
        for (String service : SERVICES) {
            Container c = manifests.deployment(service).getSpec().getTemplate().getSpec().getContainers().get(0);
            Map<String, Integer> ports = c.getPorts().stream()
                    .collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort));
            assertThat(ports).containsExactlyInAnyOrderEntriesOf(Map.of("http", 8080, "management", 9000));
            Map<String, Probe> probes = Map.of("/q/health/started", c.getStartupProbe(),
                    "/q/health/live", c.getLivenessProbe(), "/q/health/ready", c.getReadinessProbe());
            probes.forEach((path, probe) -> {
                assertThat(probe.getHttpGet().getPath()).isEqualTo(path);
                assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("management");
                assertThat(probe.getTimeoutSeconds()).isPositive();
            });
            // a slow start gets minutes before liveness may restart it
            assertThat(c.getStartupProbe().getPeriodSeconds() * c.getStartupProbe().getFailureThreshold())
                    .isGreaterThanOrEqualTo(120);
            Service svc = manifests.one(Service.class, Chart.RELEASE + "-" + service);
            assertThat(svc.getSpec().getPorts()).extracting(p -> p.getName() + ":" + p.getPort() + "->" + p.getTargetPort().getStrVal())
                    .containsExactlyInAnyOrder("http:8080->http", "management:9000->management");
            Map<String, String> settings = manifests.settings(service);
            assertThat(settings).containsEntry("quarkus.http.port", "8080").containsEntry("quarkus.management.port", "9000");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void secretsReachTheServicesOnlyAsMountedFiles(String name, Manifests manifests) {
        assertThat(manifests.all()).noneMatch(o -> o.getKind().equals("Secret"));
        for (String service : SERVICES) {
            Deployment d = manifests.deployment(service);
            PodSpec pod = d.getSpec().getTemplate().getSpec();
            Container c = pod.getContainers().get(0);
            assertThat(c.getEnvFrom()).isNullOrEmpty();
            for (EnvVar env : c.getEnv() == null ? List.<EnvVar>of() : c.getEnv()) {
                if (env.getName().equals("POD_NAME")) { // the Lease holder identity, from the downward API
                    assertThat(env.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.name");
                    continue;
                }
                assertThat(env.getValueFrom()).as("env %s", env.getName()).isNull();
                assertThat(env.getName()).doesNotStartWith("LIFEBOAT_").doesNotContain("PASSWORD").doesNotContain("TOKEN");
            }
            Set<String> mountedFiles = secretFiles(pod, c).keySet();
            Map<String, String> settings = manifests.settings(service);
            // no secret value in the ConfigMap: every password, key and token setting is a *-file one
            assertThat(settings.keySet()).noneMatch(k -> k.matches(".*\\.(password|token|secret-access-key|access-key-id)$"));
            Set<String> fileSettings = new TreeSet<>();
            settings.forEach((key, value) -> {
                if (key.endsWith("-file") || key.endsWith("identity-files")) {
                    for (String path : value.split(",")) {
                        assertThat(path).as("%s %s", service, key).startsWith(SECRETS_DIR + "/");
                        assertThat(mountedFiles).as("%s: %s is a mounted Secret key", service, path).contains(path);
                        fileSettings.add(path);
                    }
                }
            });
            assertThat(fileSettings).as("%s mounts only files it reads", service).containsExactlyInAnyOrderElementsOf(mountedFiles);
        }
        if (name.equals("all-on")) {
            assertThat(secretFiles(allOn.deployment("backup-service"))).containsEntry(
                    SECRETS_DIR + "/databases/billing/password", "billing-db:pgpass")
                    .containsEntry(SECRETS_DIR + "/s3/access-key-id", "lifeboat-s3:access-key-id")
                    .containsEntry(SECRETS_DIR + "/tokens/clients/oncall", "lifeboat-api-tokens:oncall-token")
                    .doesNotContainKey(SECRETS_DIR + "/age/identity.txt");
            assertThat(secretFiles(allOn.deployment("restore-service"))).containsEntry(
                    SECRETS_DIR + "/age/identity-2025.txt", "lifeboat-age:identity-2025.txt")
                    .containsEntry(SECRETS_DIR + "/targets/primary/password", "shop-db-owner:password");
            assertThat(secretFiles(allOn.deployment("verify-service"))).containsEntry(
                    SECRETS_DIR + "/targets/scratch/password", "scratch-db:password")
                    .doesNotContainKey(SECRETS_DIR + "/targets/primary/password");
        }
    }

    /** Mounted file path → "secret:key", from the pod's projected Secret volumes and the container's mounts. */
    static Map<String, String> secretFiles(Deployment d) {
        PodSpec pod = d.getSpec().getTemplate().getSpec();
        return secretFiles(pod, pod.getContainers().get(0));
    }

    static Map<String, String> secretFiles(PodSpec pod, Container c) {
        Map<String, String> files = new HashMap<>();
        for (VolumeMount mount : c.getVolumeMounts()) {
            Volume v = pod.getVolumes().stream().filter(x -> x.getName().equals(mount.getName())).findFirst().orElseThrow();
            if (v.getSecret() != null) {
                throw new AssertionError("Secrets are mounted through the one projected volume, not " + v.getName());
            }
            if (v.getProjected() == null) {
                continue;
            }
            assertThat(mount.getReadOnly()).isTrue();
            assertThat(v.getProjected().getDefaultMode()).isEqualTo(0440);
            for (VolumeProjection source : v.getProjected().getSources()) {
                assertThat(source.getSecret()).as("projected sources are Secrets").isNotNull();
                for (KeyToPath item : source.getSecret().getItems()) {
                    files.put(mount.getMountPath() + "/" + item.getPath(), source.getSecret().getName() + ":" + item.getKey());
                }
            }
        }
        return files;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void everyObjectCarriesTheRecommendedLabels(String name, Manifests manifests) {
        for (HasMetadata o : manifests.all()) {
            assertThat(o.getMetadata().getName().length()).as(o.getKind()).isLessThanOrEqualTo(63);
            assertThat(o.getMetadata().getLabels()).as(o.getKind() + "/" + o.getMetadata().getName())
                    .containsEntry("app.kubernetes.io/instance", Chart.RELEASE)
                    .containsEntry("app.kubernetes.io/managed-by", "Helm")
                    .containsEntry("app.kubernetes.io/part-of", "lifeboat")
                    .containsEntry("app.kubernetes.io/version", "0.1.0")
                    .containsKeys("app.kubernetes.io/name", "app.kubernetes.io/component", "helm.sh/chart");
        }
        for (String service : SERVICES) {
            Deployment d = manifests.deployment(service);
            Map<String, String> selector = d.getSpec().getSelector().getMatchLabels();
            assertThat(selector).containsExactlyInAnyOrderEntriesOf(Map.of("app.kubernetes.io/name", service,
                    "app.kubernetes.io/instance", Chart.RELEASE));
            assertThat(d.getSpec().getTemplate().getMetadata().getLabels()).containsAllEntriesOf(selector);
            assertThat(manifests.one(Service.class, d.getMetadata().getName()).getSpec().getSelector()).isEqualTo(selector);
            assertThat(d.getSpec().getTemplate().getMetadata().getAnnotations()).containsKey("checksum/config");
        }
    }

    @Test
    void aLongReleaseNameStillGivesDistinctNamesOfAtMost63Characters() {
        String release = "a-release-name-as-long-as-helm-allows-53-characters-x"; // Helm's maximum
        Manifests m = Manifests.parse(Chart.renderRelease(release, Chart.allOn()));
        Set<String> names = new HashSet<>();
        for (HasMetadata o : m.all()) {
            assertThat(o.getMetadata().getName()).hasSizeLessThanOrEqualTo(63).doesNotEndWith("-");
            names.add(o.getKind() + "/" + o.getMetadata().getNamespace() + "/" + o.getMetadata().getName());
        }
        assertThat(names).hasSameSizeAs(m.all());
        assertThat(m.all(Deployment.class)).extracting(d -> d.getMetadata().getName())
                .allMatch(n -> n.endsWith("-backup-service") || n.endsWith("-restore-service") || n.endsWith("-verify-service"));
    }

    @Test
    void rolesNeverAClusterRoleWithExactlyTheVerbsUsedWorkloadsForRestoreServiceLeasesForEveryService() {
        assertThat(allOn.all()).noneMatch(o -> o.getKind().startsWith("Cluster"));
        List<Role> roles = allOn.all(Role.class).stream().filter(r -> !r.getMetadata().getName().endsWith("-leases"))
                .toList();
        assertThat(roles).extracting(r -> r.getMetadata().getNamespace()).containsExactlyInAnyOrder("shop", "billing");
        for (Role role : roles) {
            assertThat(role.getMetadata().getName()).isEqualTo("lifeboat-restore-service");
            assertThat(grants(role.getRules())).isEqualTo(RESTORE_ROLE);
        }
        for (String service : SERVICES) {
            Role leases = allOn.one(Role.class, "lifeboat-" + service + "-leases");
            assertThat(leases.getMetadata().getNamespace()).isEqualTo(Chart.NAMESPACE);
            assertThat(grants(leases.getRules())).isEqualTo(LEASE_ROLE);
            RoleBinding binding = allOn.one(RoleBinding.class, "lifeboat-" + service + "-leases");
            assertThat(binding.getRoleRef().getName()).isEqualTo("lifeboat-" + service + "-leases");
            assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
                assertThat(s.getName()).isEqualTo("lifeboat-" + service);
                assertThat(s.getNamespace()).isEqualTo(Chart.NAMESPACE);
            });
        }
        for (RoleBinding binding : allOn.all(RoleBinding.class)) {
            assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
            if (binding.getMetadata().getName().endsWith("-leases")) {
                continue;
            }
            assertThat(binding.getRoleRef().getName()).isEqualTo("lifeboat-restore-service");
            assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
                assertThat(s.getKind()).isEqualTo("ServiceAccount");
                assertThat(s.getName()).isEqualTo("lifeboat-restore-service");
                assertThat(s.getNamespace()).isEqualTo(Chart.NAMESPACE);
            });
        }
        // a workloads namespace left out means the release's own
        Manifests local = Manifests.parse(Chart.render(Chart.allOn(), """
                global:
                  targets:
                    primary: {workloads: {namespace: ""}}
                """));
        assertThat(local.all(Role.class)).filteredOn(r -> !r.getMetadata().getName().endsWith("-leases"))
                .extracting(r -> r.getMetadata().getNamespace()).containsExactlyInAnyOrder(Chart.NAMESPACE, "billing");
        assertThat(local.settings("restore-service")).containsEntry("lifeboat.targets.primary.workloads.namespace", Chart.NAMESPACE);
    }

    /** "group/resource" → verbs, from Role rules. */
    static Map<String, Set<String>> grants(List<PolicyRule> rules) {
        Map<String, Set<String>> out = new HashMap<>();
        for (PolicyRule rule : rules) {
            assertThat(rule.getResourceNames()).isNullOrEmpty();
            for (String group : rule.getApiGroups()) {
                for (String resource : rule.getResources()) {
                    out.computeIfAbsent(group + "/" + resource, k -> new TreeSet<>()).addAll(rule.getVerbs());
                }
            }
        }
        return out;
    }

    @Test
    void networkPoliciesAdmitOnlyThePeersClientsAndPrometheusAndReachOnlyWhatEachServiceUses() {
        Map<String, String> caller = Map.of("backup-service", "restore-service", "restore-service", "verify-service",
                "verify-service", "backup-service");
        Map<String, String> callee = Map.of("backup-service", "verify-service", "restore-service", "backup-service",
                "verify-service", "restore-service");
        for (String service : SERVICES) {
            NetworkPolicy np = allOn.one(NetworkPolicy.class, "lifeboat-" + service);
            assertThat(np.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
            assertThat(np.getSpec().getPodSelector().getMatchLabels()).containsEntry("app.kubernetes.io/name", service);
            List<NetworkPolicyIngressRule> ingress = np.getSpec().getIngress();
            assertThat(ingress).hasSize(2).allSatisfy(r -> assertThat(r.getFrom()).as("a rule without from admits everyone").isNotEmpty());
            NetworkPolicyIngressRule api = ingress.stream().filter(r -> ports(r.getPorts()).contains("http/TCP")).findFirst().orElseThrow();
            assertThat(ports(api.getPorts())).containsExactly("http/TCP");
            assertThat(api.getFrom()).hasSize(2);
            assertThat(api.getFrom().get(0).getPodSelector().getMatchLabels())
                    .containsExactlyInAnyOrderEntriesOf(Map.of("app.kubernetes.io/name", caller.get(service), "app.kubernetes.io/instance", Chart.RELEASE));
            assertThat(api.getFrom().get(1).getNamespaceSelector().getMatchLabels()).containsEntry("kubernetes.io/metadata.name", "ops");
            NetworkPolicyIngressRule management = ingress.stream().filter(r -> ports(r.getPorts()).contains("management/TCP")).findFirst().orElseThrow();
            assertThat(management.getFrom()).singleElement().satisfies(p -> {
                assertThat(p.getNamespaceSelector().getMatchLabels()).containsEntry("kubernetes.io/metadata.name", "monitoring");
                assertThat(p.getPodSelector().getMatchLabels()).containsEntry("app.kubernetes.io/name", "prometheus");
            });

            Map<String, List<String>> egress = new HashMap<>();
            for (NetworkPolicyEgressRule rule : np.getSpec().getEgress()) {
                egress.put(String.join(",", ports(rule.getPorts())), peers(rule.getTo()));
            }
            Map<String, List<String>> expected = new HashMap<>();
            expected.put("53/UDP,53/TCP", List.of("ns:kube-system+pod:kube-dns"));
            expected.put(service.equals("verify-service") ? "5432/TCP" : "5432/TCP,5433/TCP", List.of("cidr:10.20.0.0/16"));
            expected.put("9000/TCP", List.of("cidr:10.30.0.15/32"));
            expected.put("8080/TCP", List.of("pod:" + callee.get(service)));
            // every service reaches the API server: its Leases (restore-service: the workloads too)
            expected.put("443/TCP,6443/TCP", List.of("cidr:172.20.0.1/32"));
            assertThat(egress).as(service).isEqualTo(expected);
        }
        // without CIDRs, PostgreSQL and S3 egress are limited by port only; the default S3 port is https
        NetworkPolicy plain = defaults.one(NetworkPolicy.class, "lifeboat-backup-service");
        assertThat(plain.getSpec().getEgress()).anySatisfy(r -> {
            assertThat(ports(r.getPorts())).containsExactly("443/TCP");
            assertThat(r.getTo()).isNullOrEmpty();
        });
        assertThat(plain.getSpec().getEgress()).anySatisfy(r -> {
            assertThat(ports(r.getPorts())).containsExactly("443/TCP", "6443/TCP");
            assertThat(r.getTo()).isNullOrEmpty();
        });
        assertThat(Manifests.parse(Chart.render("global: {networkPolicy: {enabled: false}}")).all(NetworkPolicy.class)).isEmpty();
    }

    private static List<String> ports(List<NetworkPolicyPort> ports) {
        return ports.stream().map(p -> (p.getPort().getIntVal() != null ? p.getPort().getIntVal().toString()
                : p.getPort().getStrVal()) + "/" + p.getProtocol()).toList();
    }

    private static List<String> peers(List<NetworkPolicyPeer> peers) {
        if (peers == null) {
            return List.of();
        }
        return peers.stream().map(p -> {
            if (p.getIpBlock() != null) {
                return "cidr:" + p.getIpBlock().getCidr();
            }
            String ns = p.getNamespaceSelector() == null ? "" : "ns:" + p.getNamespaceSelector().getMatchLabels().get("kubernetes.io/metadata.name") + "+";
            Map<String, String> pod = p.getPodSelector().getMatchLabels();
            return ns + "pod:" + pod.getOrDefault("app.kubernetes.io/name", pod.get("k8s-app"));
        }).toList();
    }

    @Test
    void monitoringObjectsAppearOnlyWhenTheirToggleIsOn() throws IOException {
        assertThat(defaults.all(ServiceMonitor.class)).isEmpty();
        assertThat(defaults.all(PrometheusRule.class)).isEmpty();
        assertThat(defaults.all(ConfigMap.class)).noneMatch(c -> c.getMetadata().getName().endsWith("-dashboard"));
        String url = "monitoring: {prometheusRule: {runbookBaseUrl: 'https://example.com/README.md'}}";
        Map<String, Function<Manifests, Integer>> count = Map.of(
                "serviceMonitor", m -> m.all(ServiceMonitor.class).size(),
                "prometheusRule", m -> m.all(PrometheusRule.class).size(),
                "dashboard", m -> (int) m.all(ConfigMap.class).stream().filter(c -> c.getMetadata().getName().endsWith("-dashboard")).count());
        for (String toggle : count.keySet()) {
            Manifests m = Manifests.parse(Chart.render(url, "monitoring: {" + toggle + ": {enabled: true}}"));
            count.forEach((other, n) -> assertThat(n.apply(m)).as("%s with only %s on", other, toggle)
                    .isEqualTo(other.equals(toggle) ? 1 : 0));
        }

        ServiceMonitor sm = allOn.one(ServiceMonitor.class, "lifeboat");
        assertThat(sm.getMetadata().getLabels()).containsEntry("release", "kube-prometheus-stack");
        assertThat(sm.getSpec().getEndpoints()).singleElement().satisfies(e -> {
            assertThat(e.getPort()).isEqualTo("management");
            assertThat(e.getPath()).isEqualTo("/q/metrics");
        });
        // the ServiceMonitor selects exactly the three Services
        Map<String, String> selector = sm.getSpec().getSelector().getMatchLabels();
        assertThat(allOn.all(Service.class)).hasSize(3)
                .allSatisfy(s -> assertThat(s.getMetadata().getLabels()).containsAllEntriesOf(selector));

        ConfigMap dashboard = allOn.one(ConfigMap.class, "lifeboat-dashboard");
        assertThat(dashboard.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
        assertThat(dashboard.getMetadata().getAnnotations()).containsEntry("grafana_folder", "Databases");
        JsonNode json = new ObjectMapper().readTree(dashboard.getData().get("lifeboat.json"));
        assertThat(json.get("uid").asText()).isEqualTo("lifeboat-dr");
        assertThat(json.get("panels").get(0).get("type").asText()).as("a status row on top").isEqualTo("row");
        assertThat(json.get("panels").get(0).get("title").asText()).isEqualTo("Status");
    }

    @Test
    void theAlertsAreNamedAsDocumentedEachWithSeveritySummaryDescriptionAndARunbookSection() throws IOException {
        List<Rule> rules = allOn.one(PrometheusRule.class, "lifeboat").getSpec().getGroups().stream()
                .flatMap(g -> g.getRules().stream()).toList();
        assertThat(rules).extracting(Rule::getAlert).containsExactlyInAnyOrderElementsOf(ALERTS);
        String readme = Files.readString(Chart.dir().resolve("../../../README.md"));
        Set<String> anchors = readme.lines().filter(l -> l.startsWith("#")).map(ChartRenderTest::githubAnchor)
                .collect(Collectors.toSet());
        for (Rule rule : rules) {
            assertThat(rule.getLabels()).as(rule.getAlert()).containsKey("severity");
            assertThat(rule.getAnnotations()).as(rule.getAlert()).containsKeys("summary", "description", "runbook_url");
            String url = rule.getAnnotations().get("runbook_url");
            assertThat(url).startsWith("https://git.example.com/platform/lifeboat/blob/v0.1.0/README.md#");
            String anchor = url.substring(url.indexOf('#') + 1);
            assertThat(anchor).isEqualTo(rule.getAlert().toLowerCase(Locale.ROOT));
            assertThat(anchors).as("README has a section for %s", rule.getAlert()).contains(anchor);
        }
        // thresholds come from the values
        Manifests tuned = Manifests.parse(Chart.render(Chart.allOn(), """
                monitoring:
                  prometheusRule:
                    backupMissingAfter: 49h
                    verificationStaleAfter: 3d
                    serviceDownFor: 15m
                    severities: {LifeboatBackupFailed: critical}
                """));
        Map<String, Rule> byName = tuned.one(PrometheusRule.class, "lifeboat").getSpec().getGroups().get(0).getRules()
                .stream().collect(Collectors.toMap(Rule::getAlert, r -> r));
        assertThat(byName.get("LifeboatBackupMissing").getExpr().getStrVal()).endsWith("> 176400");
        assertThat(byName.get("LifeboatVerificationStale").getExpr().getStrVal()).contains("> 259200)");
        assertThat(byName.get("LifeboatServiceDown").getFor()).isEqualTo("15m");
        assertThat(byName.get("LifeboatBackupFailed").getLabels()).containsEntry("severity", "critical");
    }

    /** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
    static String githubAnchor(String heading) {
        return heading.replaceFirst("^#+\\s*", "").strip().toLowerCase(Locale.ROOT)
                .replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
    }

    @Test
    void settingsReachEveryServiceFromOnePlaceInTheValues() {
        Map<String, String> backup = allOn.settings("backup-service");
        Map<String, String> restore = allOn.settings("restore-service");
        Map<String, String> verify = allOn.settings("verify-service");
        for (Map<String, String> s : List.of(backup, restore, verify)) {
            assertThat(s).containsEntry("lifeboat.store.type", "s3").containsEntry("lifeboat.store.s3.bucket", "acme-db-backups")
                    .containsEntry("lifeboat.store.s3.endpoint", "https://minio.storage.svc:9000")
                    .containsEntry("lifeboat.store.s3.path-style", "true")
                    .containsEntry("lifeboat.store.s3.access-key-id-file", SECRETS_DIR + "/s3/access-key-id")
                    // the one integrity key of every service, to sign and check metadata and verification records
                    .containsEntry("lifeboat.store.integrity-key-file", SECRETS_DIR + "/integrity/keys")
                    .containsEntry("lifeboat.auth.tokens.oncall.roles", "viewer,operator,restorer")
                    .containsEntry("lifeboat.peers.token-file", SECRETS_DIR + "/tokens/self");
        }
        assertThat(backup).containsEntry("lifeboat.encryption.recipients", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
                .containsEntry("lifeboat.backup.schedule", "0 0 2 * * ?")
                .containsEntry("lifeboat.databases.billing.port", "5433")
                .containsEntry("lifeboat.databases.billing.prefix", "billing/main")
                .containsEntry("lifeboat.peers.verify-url", "http://lifeboat-verify-service.lifeboat.svc:8080")
                .containsEntry("lifeboat.auth.tokens.restore-service.roles", "restorer")
                .containsEntry("lifeboat.backup.zstd-workers", "4");
        assertThat(restore).containsEntry("lifeboat.targets.primary.workloads.deployments", "web,worker")
                .containsEntry("lifeboat.targets.billing.workloads.selector", "app.kubernetes.io/part-of=billing")
                .containsEntry("lifeboat.targets.scratch.scratch", "true")
                .containsEntry("lifeboat.peers.backup-url", "http://lifeboat-backup-service.lifeboat.svc:8080")
                .containsEntry("lifeboat.auth.tokens.verify-service.roles", "operator")
                .doesNotContainKey("lifeboat.encryption.recipients");
        assertThat(verify).containsEntry("lifeboat.objectives.rpo", "26h").containsEntry("lifeboat.databases.main.rpo", "26h")
                .containsEntry("lifeboat.databases.billing.rto", "1h")
                .containsEntry("lifeboat.verify.scratch.host", "scratch-db.lifeboat.svc")
                .containsEntry("lifeboat.verify.checks.orders-present.sql", "SELECT count(*) > 0 FROM orders")
                .containsEntry("lifeboat.peers.restore-url", "http://lifeboat-restore-service.lifeboat.svc:8080")
                .containsEntry("lifeboat.auth.tokens.backup-service.roles", "operator");
        // a change to the values changes the pods' config checksum, so they restart with it
        Manifests changed = Manifests.parse(Chart.render(Chart.allOn(), "global: {schedules: {backup: '0 30 1 * * ?'}}"));
        assertThat(checksum(changed, "backup-service")).isNotEqualTo(checksum(allOn, "backup-service"));
        assertThat(checksum(changed, "restore-service")).isEqualTo(checksum(allOn, "restore-service"));
    }

    @Test
    void retentionLifecycleArchivePricesAndRetriesReachOnlyTheServicesThatReadThem() {
        Map<String, String> backup = allOn.settings("backup-service");
        Map<String, String> restore = allOn.settings("restore-service");
        Map<String, String> verify = allOn.settings("verify-service");
        // retries: every service reads the store
        for (Map<String, String> s : List.of(backup, restore, verify)) {
            assertThat(s).containsEntry("lifeboat.store.retry.max-attempts", "8")
                    .containsEntry("lifeboat.store.retry.initial-backoff", "500ms")
                    .containsEntry("lifeboat.store.retry.max-backoff", "30s")
                    .containsEntry("lifeboat.store.retry.max-total", "5m");
        }
        // retention, lifecycle and prices: backup-service only
        assertThat(backup).containsEntry("lifeboat.retention.enabled", "true")
                .containsEntry("lifeboat.retention.daily", "14").containsEntry("lifeboat.retention.weekly", "8")
                .containsEntry("lifeboat.retention.monthly", "12").containsEntry("lifeboat.retention.min-keep", "5")
                .containsEntry("lifeboat.retention.safety-max-age", "14d")
                .containsEntry("lifeboat.retention.timezone", "Europe/Paris")
                .containsEntry("lifeboat.databases.billing.retention.keep-last", "48")
                .containsEntry("lifeboat.databases.billing.retention.monthly", "24")
                .containsEntry("lifeboat.databases.billing.retention.schedule", "0 0 6 * * ?")
                .containsEntry("lifeboat.store.s3.lifecycle.manage", "true")
                .containsEntry("lifeboat.store.s3.lifecycle.standard-ia-after-days", "30")
                .containsEntry("lifeboat.store.s3.lifecycle.glacier-after-days", "120")
                .containsEntry("lifeboat.store.s3.lifecycle.deep-archive-after-days", "365")
                .containsEntry("lifeboat.store.s3.lifecycle.abort-incomplete-after-days", "1")
                .containsEntry("lifeboat.store.prices.standard", "0.021")
                .containsEntry("lifeboat.store.prices.deep-archive", "0.00099");
        // unset keys are left to the services' defaults
        assertThat(backup.keySet()).noneMatch(k -> k.startsWith("lifeboat.databases.main.retention."))
                .doesNotContain("lifeboat.retention.max-age", "lifeboat.retention.keep-last",
                        "lifeboat.retention.yearly", "lifeboat.retention.schedule")
                .noneMatch(k -> k.startsWith("lifeboat.store.s3.archive."));
        // archived backups are waited for by restores and verifications
        for (Map<String, String> s : List.of(restore, verify)) {
            assertThat(s).containsEntry("lifeboat.store.s3.archive.tier", "Bulk")
                    .containsEntry("lifeboat.store.s3.archive.days", "3")
                    .containsEntry("lifeboat.store.s3.archive.poll-interval", "5m")
                    .containsEntry("lifeboat.store.s3.archive.timeout", "72h");
            assertThat(s.keySet()).noneMatch(k -> k.startsWith("lifeboat.retention.")
                    || k.startsWith("lifeboat.store.s3.lifecycle.") || k.startsWith("lifeboat.store.prices.")
                    || k.contains(".retention."));
        }
    }

    @Test
    void pointInTimeRecoverySettingsReachBackupServiceWithTheReplicationPasswordAsAFileAndVerifyServiceItsSwitch() {
        Map<String, String> backup = allOn.settings("backup-service");
        assertThat(backup).containsEntry("lifeboat.databases.main.pitr.enabled", "true")
                .containsEntry("lifeboat.databases.main.pitr.user", "lifeboat_wal")
                .containsEntry("lifeboat.databases.main.pitr.password-file", SECRETS_DIR + "/databases/main/pitr-password")
                .containsEntry("lifeboat.databases.main.pitr.partial-interval", "30s");
        // unset: the service's defaults (daily base backup, slot lifeboat_<label>); billing has no PITR at all
        assertThat(backup.keySet()).doesNotContain("lifeboat.databases.main.pitr.base-schedule",
                "lifeboat.databases.main.pitr.slot").noneMatch(k -> k.startsWith("lifeboat.databases.billing.pitr."));
        // verify-service shows the recovery window of the databases with PITR; restore-service needs no setting
        assertThat(allOn.settings("verify-service")).containsEntry("lifeboat.databases.main.pitr.enabled", "true");
        assertThat(allOn.settings("verify-service").keySet()).filteredOn(k -> k.contains(".pitr."))
                .containsExactly("lifeboat.databases.main.pitr.enabled");
        assertThat(allOn.settings("restore-service").keySet())
                .noneMatch(k -> k.startsWith("lifeboat.databases.") && k.contains(".pitr."));
        assertThat(defaults.settings("backup-service").keySet())
                .noneMatch(k -> k.startsWith("lifeboat.databases.") && k.contains(".pitr."));
        // restore-service replays base backups in a private PostgreSQL whose data directory is a sized emptyDir
        for (Manifests m : List.of(defaults, allOn)) {
            assertThat(m.settings("restore-service")).containsEntry("lifeboat.restore.pitr.spool-dir", "/var/lib/lifeboat/pitr");
            PodSpec pod = m.deployment("restore-service").getSpec().getTemplate().getSpec();
            assertThat(pod.getVolumes()).filteredOn(v -> v.getName().equals("pitr-spool")).singleElement()
                    .satisfies(v -> assertThat(v.getEmptyDir().getSizeLimit().toString()).isEqualTo("20Gi"));
            assertThat(pod.getContainers().get(0).getVolumeMounts()).filteredOn(v -> v.getName().equals("pitr-spool"))
                    .singleElement().satisfies(v -> assertThat(v.getMountPath()).isEqualTo("/var/lib/lifeboat/pitr"));
            assertThat(m.deployment("verify-service").getSpec().getTemplate().getSpec().getVolumes())
                    .noneMatch(v -> v.getName().contains("spool"));
            // backup-service's WAL receivers spool pg_receivewal's files in a sized emptyDir too
            assertThat(m.settings("backup-service")).containsEntry("lifeboat.pitr.spool-dir", "/var/lib/lifeboat/wal-spool");
            PodSpec backupPod = m.deployment("backup-service").getSpec().getTemplate().getSpec();
            assertThat(backupPod.getVolumes()).filteredOn(v -> v.getName().equals("wal-spool")).singleElement()
                    .satisfies(v -> assertThat(v.getEmptyDir().getSizeLimit().toString()).isEqualTo("2Gi"));
            assertThat(backupPod.getContainers().get(0).getVolumeMounts()).filteredOn(v -> v.getName().equals("wal-spool"))
                    .singleElement().satisfies(v -> assertThat(v.getMountPath()).isEqualTo("/var/lib/lifeboat/wal-spool"));
        }
    }

    @Test
    void withDefaultValuesRetentionIsOffAndNoLifecycleRulesAreManaged() {
        Map<String, String> backup = defaults.settings("backup-service");
        assertThat(backup).containsEntry("lifeboat.retention.enabled", "false")
                .containsEntry("lifeboat.retention.timezone", "UTC") // global.schedules.timezone
                .doesNotContainKey("lifeboat.store.s3.lifecycle.manage");
        assertThat(backup.keySet()).noneMatch(k -> k.startsWith("lifeboat.retention.")
                && !k.equals("lifeboat.retention.enabled") && !k.equals("lifeboat.retention.timezone"))
                .noneMatch(k -> k.startsWith("lifeboat.store.s3.lifecycle."));
        Map<String, String> filesystem = Manifests.parse(Chart.render(
                "global: {store: {type: filesystem, filesystem: {existingClaim: store}}}")).settings("restore-service");
        assertThat(filesystem).containsEntry("lifeboat.store.retry.max-attempts", "5");
        assertThat(filesystem.keySet()).noneMatch(k -> k.startsWith("lifeboat.store.s3."));
    }

    private static String checksum(Manifests m, String service) {
        return m.deployment(service).getSpec().getTemplate().getMetadata().getAnnotations().get("checksum/config");
    }

    @Test
    void irsaOrWorkloadIdentityNeedsNoKeysOnlyServiceAccountAnnotations() {
        Manifests m = Manifests.parse(Chart.render("""
                global:
                  serviceAccountAnnotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::1:role/all"}
                restore-service:
                  serviceAccount: {annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::1:role/restore"}}
                """));
        assertThat(m.one(ServiceAccount.class, "lifeboat-backup-service").getMetadata().getAnnotations())
                .containsEntry("eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/all");
        assertThat(m.one(ServiceAccount.class, "lifeboat-restore-service").getMetadata().getAnnotations())
                .containsEntry("eks.amazonaws.com/role-arn", "arn:aws:iam::1:role/restore");
        for (String service : SERVICES) {
            assertThat(m.settings(service)).doesNotContainKeys("lifeboat.store.s3.access-key-id-file",
                    "lifeboat.store.s3.secret-access-key-file");
            assertThat(secretFiles(m.deployment(service))).noneSatisfy((path, ref) -> assertThat(path).contains("/s3/"));
        }
    }

    @Test
    void theReleaseNotesTellHowToTakeAFirstBackupAndReadTheDrStatus() {
        String notes = Chart.notes(Chart.allOn());
        assertThat(notes).contains("Databases backed up: billing, main")
                .contains("lifeboat-api-tokens, billing-db, shop-db-backup, shop-db-owner, scratch-db, lifeboat-s3, lifeboat-age")
                .contains("kubectl -n lifeboat port-forward svc/lifeboat-backup-service 8081:8080")
                .contains("jsonpath='{.data.oncall-token}'")
                .contains("-d '{\"database\": \"billing\"}' 'http://127.0.0.1:8081/api/v1/backups?wait=true'")
                .contains("kubectl -n lifeboat port-forward svc/lifeboat-verify-service 8083:8080")
                .contains("http://127.0.0.1:8083/api/v1/status")
                .doesNotContain("UNENCRYPTED");
        assertThat(Chart.notes()).contains("none yet (set global.databases)").contains("UNENCRYPTED")
                .contains("add a client with the operator role to global.auth.clients");
    }

    @Test
    void aFilesystemStoreIsOneClaimMountedByTheThreeServices() {
        Manifests m = Manifests.parse(Chart.render("global: {store: {type: filesystem, filesystem: {existingClaim: lifeboat-store}}}"));
        for (String service : SERVICES) {
            PodSpec pod = m.deployment(service).getSpec().getTemplate().getSpec();
            Volume store = pod.getVolumes().stream().filter(v -> v.getPersistentVolumeClaim() != null).findFirst().orElseThrow();
            assertThat(store.getPersistentVolumeClaim().getClaimName()).isEqualTo("lifeboat-store");
            assertThat(pod.getContainers().get(0).getVolumeMounts()).anySatisfy(v -> {
                assertThat(v.getName()).isEqualTo(store.getName());
                assertThat(v.getMountPath()).isEqualTo("/var/lib/lifeboat/store");
            });
            assertThat(m.settings(service)).containsEntry("lifeboat.store.type", "filesystem")
                    .containsEntry("lifeboat.store.filesystem.path", "/var/lib/lifeboat/store")
                    .doesNotContainKey("lifeboat.store.s3.bucket");
            // no S3 to reach: egress is DNS, the peer, the API server (Leases) and (with databases or targets)
            // PostgreSQL only
            assertThat(m.one(NetworkPolicy.class, "lifeboat-" + service).getSpec().getEgress())
                    .noneSatisfy(r -> assertThat(ports(r.getPorts())).containsExactly("443/TCP"))
                    .anySatisfy(r -> assertThat(ports(r.getPorts())).containsExactly("443/TCP", "6443/TCP"));
        }
    }

    @Test
    void subchartsAreSwitchedByTheirEnabledValue() {
        Manifests m = Manifests.parse(Chart.render("backup-service: {enabled: false}\nglobal: {targets: {}}"));
        assertThat(m.all(Deployment.class)).extracting(d -> d.getMetadata().getName())
                .containsExactlyInAnyOrder("lifeboat-restore-service", "lifeboat-verify-service");
        assertThat(m.all()).noneMatch(o -> o.getMetadata().getName().contains("backup"));
    }

    static Stream<Arguments> badValues() {
        return Stream.of(
                Arguments.of("wrong type", "backup-service: {replicaCount: two}", "at '/backup-service/replicaCount': got string, want integer"),
                Arguments.of("unknown key", "global: {store: {s3: {buckt: x}}}", "additional properties 'buckt' not allowed"),
                Arguments.of("negative replicas", "verify-service: {replicaCount: -1}", "minimum"),
                Arguments.of("bad duration", "global: {objectives: {rpo: one day}}", "/global/objectives/rpo"),
                Arguments.of("s3 without bucket", "global: {store: {s3: {bucket: ''}}}",
                        "global.store.s3.bucket is required with global.store.type=s3"),
                Arguments.of("filesystem without a claim", "global: {store: {type: filesystem}}",
                        "global.store.filesystem.existingClaim is required"),
                Arguments.of("databases without recipients", """
                        global:
                          databases: {main: {host: db, database: shop, existingSecret: db}}
                          targets: {scratch: {host: db, database: postgres, existingSecret: db, scratch: true}}
                        """, "global.encryption.recipients is empty, so backups would be stored unencrypted"),
                Arguments.of("recipients without identities", "global: {encryption: {recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]}}",
                        "global.encryption.existingSecret is required when global.encryption.recipients is set"),
                Arguments.of("target without a Secret", "global: {targets: {scratch: {host: db, database: postgres, scratch: true}}}",
                        "global.targets.scratch.existingSecret is required"),
                Arguments.of("database without a Secret", """
                        global:
                          encryption: {allowUnencrypted: true}
                          databases: {main: {host: db, database: shop}}
                          targets: {scratch: {host: db, database: postgres, existingSecret: db, scratch: true}}
                        """, "global.databases.main.existingSecret is required"),
                Arguments.of("verification into a real database", """
                        global:
                          encryption: {allowUnencrypted: true}
                          databases: {main: {host: db, database: shop, existingSecret: db}}
                          targets: {scratch: {host: db, database: shop, existingSecret: db}}
                        """, "global.verify.target \"scratch\" must be a scratch target"),
                Arguments.of("verify-service without restore-service", """
                        restore-service: {enabled: false}
                        global: {targets: {scratch: {host: db, database: postgres, existingSecret: db, scratch: true}}}
                        """, "verify-service restores through restore-service, which is disabled"),
                Arguments.of("alerts without a runbook", "monitoring: {prometheusRule: {enabled: true}}",
                        "monitoring.prometheusRule.runbookBaseUrl is required"),
                Arguments.of("retention that keeps nothing", "global: {retention: {enabled: true}}",
                        "global.retention.enabled is true but no rule keeps anything"),
                Arguments.of("a database's retention that keeps nothing", """
                        global:
                          encryption: {allowUnencrypted: true}
                          retention: {daily: 7}
                          databases: {main: {host: db, database: shop, existingSecret: db, retention: {enabled: true, daily: 0}}}
                          targets: {scratch: {host: db, database: postgres, existingSecret: db, scratch: true}}
                        """, "global.databases.main.retention: the policy of this database is on but no rule keeps anything"),
                Arguments.of("unknown retention key", "global: {databases: {main: {retention: {timezone: UTC}}}}",
                        "additional properties 'timezone' not allowed"),
                Arguments.of("unknown archive tier", "global: {store: {s3: {archive: {tier: Fast}}}}",
                        "/global/store/s3/archive/tier"),
                Arguments.of("STANDARD_IA too early", "global: {store: {s3: {lifecycle: {manage: true, standardIaAfterDays: 7}}}}",
                        "global.store.s3.lifecycle.standardIaAfterDays must be 0 (never) or at least 30"),
                Arguments.of("first retry wait above the largest", "global: {store: {retry: {initialBackoff: 1m, maxBackoff: 10s}}}",
                        "global.store.retry.initialBackoff (1m) must be at most global.store.retry.maxBackoff (10s)"),
                Arguments.of("no token Secret", "global: {auth: {existingSecret: ''}}", "global.auth.existingSecret is required"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badValues")
    void badValuesFailRenderingWithAClearMessage(String name, String values, String message) {
        assertThatThrownBy(() -> Chart.render(values)).hasMessageContaining(message);
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        assertThatThrownBy(() -> Chart.render("""
                global:
                  store: {s3: {bucket: ''}}
                  auth: {existingSecret: ''}
                """)).hasMessageContaining("lifeboat: these values cannot work:")
                .hasMessageContaining("global.store.s3.bucket is required")
                .hasMessageContaining("global.auth.existingSecret is required");
    }

}
