package dev.lifeboat.restore.service;

import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.LifeboatException;
import dev.lifeboat.restore.config.RestoreServiceConfig;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import dev.lifeboat.restore.config.RestoreServiceConfig.Workloads;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Scales a target's applications to 0 around an in-place restore and back (DESIGN §3 steps 3 and 5). The
 * replica count before the restore is saved in an annotation on each Deployment/StatefulSet in the same update
 * that sets 0 replicas, so a restore-service killed midway leaves the count where the recovery of the target
 * ({@link #recover}, by any replica once it can take the target's Lease) finds it and scales back. An annotation already present (an earlier restore that died) is
 * kept, never overwritten with 0.
 */
@ApplicationScoped
public class WorkloadScaler {
    private static final Logger LOG = Logger.getLogger(WorkloadScaler.class);
    /** Replica count before the restore; present only while a restore holds the workload at 0. */
    public static final String REPLICAS_ANNOTATION = "lifeboat.dev/replicas-before-restore";
    /** The restore holding the workload at 0, for people reading {@code kubectl describe}. */
    public static final String RESTORE_ANNOTATION = "lifeboat.dev/restore-id";

    private final Instance<KubernetesClient> clients;
    private final RestoreServiceConfig config;

    public WorkloadScaler(Instance<KubernetesClient> clients, RestoreServiceConfig config) {
        this.clients = clients;
        this.config = config;
    }

    /** A Deployment or StatefulSet and the replica count it is restored to. */
    @RegisterForReflection
    public record Workload(String kind, String namespace, String name, int replicas) {
        @Override
        public String toString() {
            return kind + " " + namespace + "/" + name;
        }
    }

    /** Whether the target names any workload. */
    public static boolean configured(Target target) {
        Workloads w = target.workloads();
        return w.deployments().map(l -> !l.isEmpty()).orElse(false)
                || w.statefulsets().map(l -> !l.isEmpty()).orElse(false)
                || w.selector().map(s -> !s.isBlank()).orElse(false);
    }

    /**
     * Scales the target's workloads to 0, saving each replica count first (same update). A named workload that
     * does not exist fails the step; workloads already scaled are scaled back before the failure is reported.
     */
    public List<Workload> scaleDown(String targetName, Target target, String restoreId) {
        KubernetesClient client = client();
        String ns = namespace(client, target);
        List<Workload> scaled = new ArrayList<>();
        try {
            for (HasMetadata object : find(client, ns, target.workloads())) {
                scaled.add(zero(client, object, restoreId));
            }
        } catch (RuntimeException e) {
            List<String> problems = scaleBack(scaled);
            throw new WorkloadFailure("Scaling down the workloads of target '" + targetName + "' failed: "
                    + describe(e) + (problems.isEmpty() ? "" : "; scaling back also failed: " + problems));
        }
        return scaled;
    }

    /** Waits until no pod of the workloads is left; {@link WorkloadFailure} after {@code timeout}. */
    public void awaitPodsGone(List<Workload> workloads, Duration timeout) {
        if (workloads.isEmpty()) {
            return;
        }
        KubernetesClient client = client();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, Integer> left = new LinkedHashMap<>();
            for (Workload w : workloads) {
                int pods = client.pods().inNamespace(w.namespace()).withLabels(podLabels(client, w)).list().getItems().size();
                if (pods > 0) {
                    left.put(w.toString(), pods);
                }
            }
            if (left.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new WorkloadFailure("Pods still running after " + timeout
                        + " (lifeboat.restore.pods-gone-timeout): " + left + "; the database was not touched");
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new WorkloadFailure("Interrupted while waiting for pods to stop");
            }
        }
    }

    /**
     * Scales each workload back to its saved count and removes the annotations. Never throws: returns what could
     * not be scaled back, so the caller reports it while the rest are up again.
     */
    public List<String> scaleBack(List<Workload> workloads) {
        List<String> problems = new ArrayList<>();
        if (workloads.isEmpty()) {
            return problems;
        }
        KubernetesClient client = client();
        for (Workload w : workloads) {
            try {
                restore(resource(client, w.kind(), w.namespace(), w.name()));
                LOG.infof("Scaled %s back to %d replicas", w, w.replicas());
            } catch (RuntimeException e) {
                LOG.errorf("Cannot scale %s back to %d replicas: %s", w, w.replicas(), describe(e));
                problems.add(w + ": " + describe(e));
            }
        }
        return problems;
    }

    /** The restores holding workloads of the target's namespace at 0 (their annotation), by workload. */
    public List<String> holdingAtZero(Target target) {
        return heldAtZero(target).stream().map(o -> o.getMetadata().getAnnotations().get(RESTORE_ANNOTATION)).toList();
    }

    private List<HasMetadata> heldAtZero(Target target) {
        if (!configured(target)) {
            return List.of();
        }
        KubernetesClient client = client();
        String ns = namespace(client, target);
        List<HasMetadata> all = new ArrayList<>();
        all.addAll(client.apps().deployments().inNamespace(ns).list().getItems());
        all.addAll(client.apps().statefulSets().inNamespace(ns).list().getItems());
        return all.stream().filter(o -> o.getMetadata().getAnnotations() != null
                && o.getMetadata().getAnnotations().containsKey(REPLICAS_ANNOTATION)).toList();
    }

    /**
     * Recovery of one target, done while holding its lock: scales back every workload of the target's namespace that
     * still carries the annotation, i.e. was left at 0 by a restore that did not finish, if {@code mayRecover}
     * accepts that restore's id (the caller refuses restores still running, or known to be into another target,
     * whose recovery takes that target's lock). Returns what was scaled back.
     */
    public List<Workload> recover(Target target, java.util.function.Predicate<String> mayRecover) {
        List<Workload> recovered = new ArrayList<>();
        for (HasMetadata object : heldAtZero(target)) {
            String restore = object.getMetadata().getAnnotations().get(RESTORE_ANNOTATION);
            if (mayRecover.test(restore)) {
                Workload w = new Workload(object.getKind(), object.getMetadata().getNamespace(),
                        object.getMetadata().getName(), savedReplicas(object));
                LOG.warnf("%s was left at 0 replicas by restore %s, which did not finish; scaling it back to %d",
                        w, restore, w.replicas());
                restore(resource(client(), w.kind(), w.namespace(), w.name()));
                recovered.add(w);
            }
        }
        return recovered;
    }

    private List<HasMetadata> find(KubernetesClient client, String ns, Workloads spec) {
        Map<String, HasMetadata> found = new LinkedHashMap<>();
        for (String name : spec.deployments().orElse(List.of())) {
            Deployment d = client.apps().deployments().inNamespace(ns).withName(name).get();
            if (d == null) {
                throw new WorkloadFailure("Deployment " + ns + "/" + name + " does not exist");
            }
            found.put("Deployment/" + name, d);
        }
        for (String name : spec.statefulsets().orElse(List.of())) {
            StatefulSet s = client.apps().statefulSets().inNamespace(ns).withName(name).get();
            if (s == null) {
                throw new WorkloadFailure("StatefulSet " + ns + "/" + name + " does not exist");
            }
            found.put("StatefulSet/" + name, s);
        }
        String selector = spec.selector().orElse("");
        if (!selector.isBlank()) {
            Map<String, String> labels = parseSelector(selector);
            client.apps().deployments().inNamespace(ns).withLabels(labels).list().getItems()
                    .forEach(d -> found.putIfAbsent("Deployment/" + d.getMetadata().getName(), d));
            client.apps().statefulSets().inNamespace(ns).withLabels(labels).list().getItems()
                    .forEach(s -> found.putIfAbsent("StatefulSet/" + s.getMetadata().getName(), s));
        }
        return new ArrayList<>(found.values());
    }

    /** Equality-based selector {@code a=b,c=d} (what {@code kubectl -l} accepts for the common case). */
    static Map<String, String> parseSelector(String selector) {
        Map<String, String> labels = new HashMap<>();
        for (String part : selector.split(",")) {
            String[] kv = part.strip().split("==?", 2);
            if (kv.length != 2 || kv[0].isBlank()) {
                throw new InvalidConfiguration("workloads.selector '" + selector + "': use key=value pairs separated by commas");
            }
            labels.put(kv[0].strip(), kv[1].strip());
        }
        return labels;
    }

    private Workload zero(KubernetesClient client, HasMetadata object, String restoreId) {
        String kind = object.getKind() != null ? object.getKind() : object instanceof Deployment ? "Deployment" : "StatefulSet";
        String ns = object.getMetadata().getNamespace();
        String name = object.getMetadata().getName();
        HasMetadata edited = edit(resource(client, kind, ns, name), current -> {
            Map<String, String> annotations = annotations(current);
            if (!annotations.containsKey(REPLICAS_ANNOTATION)) {
                annotations.put(REPLICAS_ANNOTATION, Integer.toString(replicas(current)));
            }
            annotations.put(RESTORE_ANNOTATION, restoreId);
            setReplicas(current, 0);
        });
        Workload w = new Workload(kind, ns, name, savedReplicas(edited));
        LOG.infof("Scaled %s to 0 (was %d) for restore %s", w, w.replicas(), restoreId);
        return w;
    }

    private void restore(Resource<? extends HasMetadata> resource) {
        edit(resource, current -> {
            Map<String, String> annotations = annotations(current);
            if (annotations.containsKey(REPLICAS_ANNOTATION)) {
                setReplicas(current, savedReplicas(current));
            }
            annotations.remove(REPLICAS_ANNOTATION);
            annotations.remove(RESTORE_ANNOTATION);
        });
    }

    @SuppressWarnings("unchecked")
    private static HasMetadata edit(Resource<? extends HasMetadata> resource, java.util.function.Consumer<HasMetadata> change) {
        return ((Resource<HasMetadata>) resource).edit(current -> {
            change.accept(current);
            return current;
        });
    }

    private static Resource<? extends HasMetadata> resource(KubernetesClient client, String kind, String ns, String name) {
        return switch (kind) {
            case "Deployment" -> client.apps().deployments().inNamespace(ns).withName(name);
            case "StatefulSet" -> client.apps().statefulSets().inNamespace(ns).withName(name);
            default -> throw new IllegalArgumentException("Not a scalable kind: " + kind);
        };
    }

    private static Map<String, String> podLabels(KubernetesClient client, Workload w) {
        HasMetadata object = resource(client, w.kind(), w.namespace(), w.name()).get();
        LabelSelector selector = object instanceof Deployment d ? d.getSpec().getSelector()
                : object instanceof StatefulSet s ? s.getSpec().getSelector() : null;
        if (selector == null || selector.getMatchLabels() == null || selector.getMatchLabels().isEmpty()) {
            throw new WorkloadFailure(w + " has no spec.selector.matchLabels; cannot tell when its pods are gone");
        }
        return selector.getMatchLabels();
    }

    private static Map<String, String> annotations(HasMetadata object) {
        if (object.getMetadata().getAnnotations() == null) {
            object.getMetadata().setAnnotations(new HashMap<>());
        }
        return object.getMetadata().getAnnotations();
    }

    private static int savedReplicas(HasMetadata object) {
        String value = annotations(object).get(REPLICAS_ANNOTATION);
        try {
            return value == null ? replicas(object) : Integer.parseInt(value.strip());
        } catch (NumberFormatException e) {
            throw new WorkloadFailure(object.getKind() + " " + object.getMetadata().getName() + ": annotation "
                    + REPLICAS_ANNOTATION + " is not a number: " + value);
        }
    }

    private static int replicas(HasMetadata object) {
        Integer r = object instanceof Deployment d ? d.getSpec().getReplicas()
                : object instanceof StatefulSet s ? s.getSpec().getReplicas() : null;
        return r == null ? 1 : r; // Kubernetes' default when spec.replicas is unset
    }

    private static void setReplicas(HasMetadata object, int replicas) {
        if (object instanceof Deployment d) {
            d.getSpec().setReplicas(replicas);
        } else if (object instanceof StatefulSet s) {
            s.getSpec().setReplicas(replicas);
        }
    }

    private KubernetesClient client() {
        return clients.get();
    }

    private static String namespace(KubernetesClient client, Target target) {
        return target.workloads().namespace().filter(n -> !n.isBlank()).orElseGet(() -> {
            String ns = client.getNamespace();
            return ns == null ? "default" : ns;
        });
    }

    private static String describe(Throwable e) {
        if (e instanceof KubernetesClientException k && k.getStatus() != null && k.getStatus().getMessage() != null) {
            return k.getStatus().getMessage();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /** Scaling or waiting for workloads failed. */
    public static final class WorkloadFailure extends LifeboatException {
        public WorkloadFailure(String detail) {
            super(502, "workload-failure", "Workload scaling failed", detail);
        }
    }
}
