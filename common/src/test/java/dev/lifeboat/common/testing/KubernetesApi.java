package dev.lifeboat.common.testing;

import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.util.HashMap;
import java.util.Map;

/**
 * The fabric8 mock Kubernetes API in CRUD mode (it stores what is created, as an API server would), over plain HTTP
 * on a free port: what the Lease tests and the replicas of a service (real processes, pointed at it with
 * {@link #serviceProperties}) share. No Docker and no real API server are needed.
 */
public final class KubernetesApi implements AutoCloseable {
    /** The mock server logs every request at INFO; held here so the level set below sticks. */
    private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");
    private final KubernetesMockServer server;
    private final NamespacedKubernetesClient client;

    public KubernetesApi() {
        MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
        server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init();
        client = server.createClient();
    }

    /** A client of the mock API. */
    public NamespacedKubernetesClient client() {
        return client;
    }

    /** The API base URL, e.g. {@code http://localhost:41234}. */
    public String url() {
        return client.getMasterUrl().toString();
    }

    /** The configuration that points a service's Kubernetes client at this API and turns Leases on. */
    public Map<String, String> serviceProperties(String namespace) {
        return Map.of("quarkus.kubernetes-client.api-server-url", url(),
                "quarkus.kubernetes-client.namespace", namespace,
                "quarkus.kubernetes-client.trust-certs", "true",
                "lifeboat.coordination.mode", "kubernetes");
    }

    @Override
    public void close() {
        client.close();
        server.destroy();
    }
}
