package dev.lifeboat.common.coord;

import dev.lifeboat.common.job.KeyLock;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseList;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.jboss.logging.Logger;

/**
 * A {@link KeyLock} on Kubernetes {@code coordination.k8s.io/v1} Leases, so every replica of a service sees the same
 * locks: one Lease per key ({@link LeaseNames}), held by this replica ({@code holderIdentity} = the pod name) for one
 * job (annotation {@value #JOB_ANNOTATION}). Acquiring creates the Lease, or takes over one that is free (no holder)
 * or expired (not renewed for its {@code leaseDurationSeconds}) with an update conditional on its resourceVersion, so
 * of two replicas racing for it exactly one wins. Held Leases are renewed in the background every
 * {@code renewInterval}; releasing clears the holder, again conditionally. A replica that dies stops renewing and
 * loses its Leases one lease duration later.
 */
public final class LeaseLock implements KeyLock, AutoCloseable {
    /** The annotation naming the job that holds the Lease. */
    public static final String JOB_ANNOTATION = "lifeboat.dev/job-id";
    private static final Logger LOG = Logger.getLogger(LeaseLock.class);
    private static final int ATTEMPTS = 5;

    private final KubernetesClient client;
    private final String namespace;
    private final String kind;
    private final String identity;
    private final Duration duration;
    /** Held Leases: name → job id. */
    private final Map<String, String> held = new ConcurrentHashMap<>();
    private final ScheduledExecutorService renewer;
    private volatile BiConsumer<String, String> onLost = (name, job) -> { };

    /**
     * @param kind     what the keys are ({@code backup}, {@code restore}): part of every Lease name
     * @param identity this replica: the pod name
     */
    public LeaseLock(KubernetesClient client, String namespace, String kind, String identity, Duration duration,
                     Duration renewInterval) {
        if (renewInterval.multipliedBy(3).compareTo(duration) >= 0) {
            throw new IllegalArgumentException("The Lease renew interval (" + renewInterval + ") must be shorter than a "
                    + "third of the lease duration (" + duration + ")");
        }
        this.client = client;
        this.namespace = namespace;
        this.kind = kind;
        this.identity = identity;
        this.duration = duration;
        this.renewer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("lease-renew-" + kind)
                .factory());
        long every = renewInterval.toMillis();
        renewer.scheduleWithFixedDelay(this::renewAll, every, every, TimeUnit.MILLISECONDS);
    }

    /** Called with (Lease name, job id) when a held Lease was taken by another replica (this one stalled too long). */
    public void onLost(BiConsumer<String, String> listener) {
        this.onLost = listener;
    }

    /** The Lease name of {@code key}. */
    public String leaseName(String key) {
        return LeaseNames.of(kind, key);
    }

    @Override
    public Optional<Holder> tryAcquire(String key, String jobId) {
        String name = leaseName(key);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            Lease current = leases().withName(name).get();
            ZonedDateTime now = now();
            try {
                if (current == null) {
                    leases().resource(new LeaseBuilder().withNewMetadata().withName(name).withNamespace(namespace)
                            .addToLabels("app.kubernetes.io/managed-by", "lifeboat")
                            .addToAnnotations(JOB_ANNOTATION, jobId).endMetadata()
                            .withNewSpec().withHolderIdentity(identity).withLeaseDurationSeconds(seconds())
                            .withAcquireTime(now).withRenewTime(now).withLeaseTransitions(0).endSpec().build()).create();
                    held.put(name, jobId);
                    return Optional.empty();
                }
                LeaseSpec spec = current.getSpec() == null ? new LeaseSpec() : current.getSpec();
                String holderJob = job(current);
                if (identity.equals(spec.getHolderIdentity()) && jobId.equals(holderJob)) {
                    held.put(name, jobId);
                    return Optional.empty();
                }
                if (!free(spec, now)) {
                    return Optional.of(new Holder(holderJob, spec.getHolderIdentity()));
                }
                Map<String, String> annotations = new HashMap<>(Optional.ofNullable(current.getMetadata().getAnnotations())
                        .orElse(Map.of()));
                annotations.put(JOB_ANNOTATION, jobId);
                current.getMetadata().setAnnotations(annotations);
                int transitions = spec.getLeaseTransitions() == null ? 0 : spec.getLeaseTransitions();
                String previous = spec.getHolderIdentity();
                spec.setHolderIdentity(identity);
                spec.setLeaseDurationSeconds(seconds());
                spec.setAcquireTime(now);
                spec.setRenewTime(now);
                spec.setLeaseTransitions(transitions + 1);
                current.setSpec(spec);
                leases().resource(current).update(); // PUT with the resourceVersion read: 409 if anyone changed it
                held.put(name, jobId);
                if (previous != null && !previous.isEmpty()) {
                    LOG.infof("Took over expired Lease %s from %s for job %s", name, previous, jobId);
                }
                return Optional.empty();
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409) {
                    throw e;
                }
                // another replica created or changed it meanwhile: look again
            }
        }
        Lease current = leases().withName(name).get();
        return Optional.of(current == null ? new Holder(null, null)
                : new Holder(job(current), current.getSpec().getHolderIdentity()));
    }

    /** Synchronized with the renewer, so a renewal and the release never race for the same resourceVersion. */
    @Override
    public synchronized void release(String key, String jobId) {
        String name = leaseName(key);
        if (!held.remove(name, jobId)) {
            return;
        }
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            try {
                Lease current = leases().withName(name).get();
                if (current != null && ours(current, jobId)) {
                    current.getSpec().setHolderIdentity(null);
                    current.getSpec().setRenewTime(now());
                    current.getMetadata().getAnnotations().remove(JOB_ANNOTATION);
                    leases().resource(current).update();
                }
                return;
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409 || attempt == ATTEMPTS - 1) {
                    LOG.warnf("Cannot release Lease %s (it expires by itself in %s): %s", name, duration,
                            e.getMessage());
                    return;
                }
            }
        }
    }

    /** Who holds {@code key} now, if anyone (a free or expired Lease has no holder). */
    @Override
    public Optional<Holder> holder(String key) {
        Lease current = leases().withName(leaseName(key)).get();
        if (current == null || current.getSpec() == null || free(current.getSpec(), now())) {
            return Optional.empty();
        }
        return Optional.of(new Holder(job(current), current.getSpec().getHolderIdentity()));
    }

    /** Renews every held Lease; one that another replica took is dropped and reported. */
    synchronized void renewAll() {
        for (Map.Entry<String, String> e : held.entrySet()) {
            String name = e.getKey();
            String jobId = e.getValue();
            try {
                Lease current = leases().withName(name).get();
                if (current == null || !ours(current, jobId)) {
                    if (held.remove(name, jobId)) {
                        LOG.errorf("Lease %s of job %s was lost to %s", name, jobId,
                                current == null ? "nobody (deleted)" : current.getSpec().getHolderIdentity());
                        onLost.accept(name, jobId);
                    }
                    continue;
                }
                current.getSpec().setRenewTime(now());
                leases().resource(current).update();
            } catch (KubernetesClientException | IllegalStateException ex) {
                LOG.warnf("Cannot renew Lease %s of job %s (will retry): %s", name, jobId, ex.getMessage());
            }
        }
    }

    private boolean ours(Lease lease, String jobId) {
        return lease.getSpec() != null && identity.equals(lease.getSpec().getHolderIdentity()) && jobId.equals(job(lease));
    }

    private boolean free(LeaseSpec spec, ZonedDateTime now) {
        if (spec.getHolderIdentity() == null || spec.getHolderIdentity().isEmpty()) {
            return true;
        }
        ZonedDateTime renewed = spec.getRenewTime() != null ? spec.getRenewTime() : spec.getAcquireTime();
        int seconds = spec.getLeaseDurationSeconds() == null ? seconds() : spec.getLeaseDurationSeconds();
        return renewed == null || renewed.plusSeconds(seconds).isBefore(now);
    }

    private static String job(Lease lease) {
        Map<String, String> annotations = lease.getMetadata().getAnnotations();
        return annotations == null ? null : annotations.get(JOB_ANNOTATION);
    }

    private int seconds() {
        return (int) Math.max(1, duration.toSeconds());
    }

    private static ZonedDateTime now() {
        return ZonedDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.MICROS);
    }

    private NonNamespaceOperation<Lease, LeaseList, Resource<Lease>> leases() {
        return client.leases().inNamespace(namespace);
    }

    /** Stops renewing without releasing anything: what a replica frozen or killed looks like to the others. */
    void stopRenewing() {
        renewer.shutdownNow();
    }

    /** Stops renewing; held Leases are released. */
    @Override
    public void close() {
        stopRenewing();
        for (Map.Entry<String, String> e : Map.copyOf(held).entrySet()) {
            String name = e.getKey();
            try {
                Lease current = leases().withName(name).get();
                if (current != null && ours(current, e.getValue())) {
                    current.getSpec().setHolderIdentity(null);
                    leases().resource(current).update();
                }
            } catch (KubernetesClientException ex) {
                LOG.warnf("Cannot release Lease %s at shutdown: %s", name, ex.getMessage());
            }
        }
        held.clear();
    }
}
