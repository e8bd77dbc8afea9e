package dev.lifeboat.restore;

import dev.lifeboat.restore.service.WorkloadScaler;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The Kubernetes objects of the restore tests, created in the CRUD mock server before the application starts,
 * and a stand-in for the controllers the mock server lacks ({@link #reconcile}): pods follow each workload's
 * replica count, except {@code stuck-app}'s, whose pod never goes away.
 *
 * <p>{@code crashed-app} is what a restore-service killed mid-restore leaves: 0 replicas and the annotation with
 * the count to return to. The application must scale it back when it starts.
 */
public class ShopWorkloads implements Consumer<KubernetesServer> {
    static final String NS = RestoreStack.NAMESPACE;

    @Override
    public void accept(KubernetesServer server) {
        KubernetesClient client = server.getClient();
        client.resource(deployment("web", 3, Map.of())).create();
        client.resource(deployment("worker", 2, Map.of("tier", "worker"))).create();
        client.resource(statefulSet("queue", 1, Map.of("tier", "worker"))).create();
        client.resource(deployment("stuck-app", 1, Map.of())).create();
        client.resource(deployment("unrelated", 2, Map.of())).create();
        Deployment crashed = deployment("crashed-app", 0, Map.of());
        crashed.getMetadata().setAnnotations(Map.of(WorkloadScaler.REPLICAS_ANNOTATION, "2",
                WorkloadScaler.RESTORE_ANNOTATION, "restore_20260101_000000_abcdef"));
        client.resource(crashed).create();
        reconcile(client);
    }

    static Deployment deployment(String name, int replicas, Map<String, String> labels) {
        return new DeploymentBuilder().withNewMetadata().withName(name).withNamespace(NS).withLabels(labels).endMetadata()
                .withNewSpec().withReplicas(replicas).withNewSelector().addToMatchLabels("app", name).endSelector()
                .withNewTemplate().withNewMetadata().addToLabels("app", name).endMetadata()
                .withNewSpec().addNewContainer().withName(name).withImage("shop/" + name).endContainer().endSpec()
                .endTemplate().endSpec().build();
    }

    static StatefulSet statefulSet(String name, int replicas, Map<String, String> labels) {
        return new StatefulSetBuilder().withNewMetadata().withName(name).withNamespace(NS).withLabels(labels).endMetadata()
                .withNewSpec().withReplicas(replicas).withServiceName(name).withNewSelector().addToMatchLabels("app", name)
                .endSelector().withNewTemplate().withNewMetadata().addToLabels("app", name).endMetadata()
                .withNewSpec().addNewContainer().withName(name).withImage("shop/" + name).endContainer().endSpec()
                .endTemplate().endSpec().build();
    }

    /** One pass of the stand-in controllers: each workload's pods made to match its replica count. */
    static void reconcile(KubernetesClient client) {
        List<HasMetadata> workloads = new java.util.ArrayList<>();
        workloads.addAll(client.apps().deployments().inNamespace(NS).list().getItems());
        workloads.addAll(client.apps().statefulSets().inNamespace(NS).list().getItems());
        for (HasMetadata w : workloads) {
            String name = w.getMetadata().getName();
            Integer r = w instanceof Deployment d ? d.getSpec().getReplicas() : ((StatefulSet) w).getSpec().getReplicas();
            int desired = r == null ? 1 : r;
            var pods = client.pods().inNamespace(NS).withLabel("app", name).list().getItems();
            if (name.equals("stuck-app") && desired < pods.size()) {
                continue; // its pod hangs in termination
            }
            for (int i = pods.size(); i < desired; i++) {
                client.resource(new PodBuilder().withNewMetadata().withName(name + "-" + System.nanoTime())
                        .withNamespace(NS).addToLabels("app", name).endMetadata().build()).create();
            }
            for (int i = desired; i < pods.size(); i++) {
                client.resource(pods.get(i)).delete();
            }
        }
    }
}
