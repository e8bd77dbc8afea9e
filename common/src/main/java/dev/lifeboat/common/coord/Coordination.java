package dev.lifeboat.common.coord;

import dev.lifeboat.common.job.KeyLock;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElector;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.interceptor.Interceptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * How the replicas of one service share work. In Kubernetes: per-key locks on Leases ({@link LeaseLock}) and one
 * leader per service (fabric8's {@link LeaderElector} on the Lease {@code lifeboat-<service>-leader}), which alone runs
 * the singleton tasks (janitors, sweeps, daily passes). Outside Kubernetes: in-process locks, and this replica is
 * always the leader. The replica's identity is {@code lifeboat.instance-id}, else the pod name ({@code POD_NAME}, set
 * by the chart from the downward API, else {@code HOSTNAME}).
 */
@ApplicationScoped
public class Coordination {
    private static final Logger LOG = Logger.getLogger(Coordination.class);
    private static final Path SERVICE_ACCOUNT_TOKEN = Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");

    private final CoordinationConfig config;
    private final Instance<KubernetesClient> clients;
    private final String service;
    private final String instance;
    private final boolean kubernetes;
    private final List<LeaseLock> locks = new ArrayList<>();
    private final ExecutorService electorThreads = Executors.newCachedThreadPool(Thread.ofPlatform().daemon()
            .name("leader-election-", 1).factory());
    private volatile boolean leader;
    private volatile boolean stopping;
    private volatile CompletableFuture<?> election;

    public Coordination(CoordinationConfig config, Instance<KubernetesClient> clients,
                        @ConfigProperty(name = "quarkus.application.name") String service,
                        InstanceConfig instanceConfig) {
        this.config = config;
        this.clients = clients;
        this.service = service;
        this.instance = instanceConfig.instanceId().filter(s -> !s.isBlank())
                .or(() -> Optional.ofNullable(System.getenv("POD_NAME")).filter(s -> !s.isBlank()))
                .or(() -> Optional.ofNullable(System.getenv("HOSTNAME")).filter(s -> !s.isBlank()))
                .orElse("local");
        this.kubernetes = switch (config.mode()) {
            case KUBERNETES -> true;
            case LOCAL -> false;
            case AUTO -> System.getenv("KUBERNETES_SERVICE_HOST") != null || Files.exists(SERVICE_ACCOUNT_TOKEN);
        };
        this.leader = !kubernetes;
    }

    void onStart(@Observes StartupEvent event) {
        LOG.infof("Coordination: %s, this replica is %s", kubernetes ? "Kubernetes Leases in namespace " + namespace()
                : "in-process (one replica)", instance);
        if (kubernetes) {
            elect();
        }
    }

    /** Whether replicas coordinate through Kubernetes Leases. */
    public boolean kubernetes() {
        return kubernetes;
    }

    /** This replica's name: the Lease holder identity and the holder shown on its jobs. */
    public String instance() {
        return instance;
    }

    /** The lock for keys of {@code kind} ({@code backup}, {@code restore}): Leases in Kubernetes, else in-process. */
    public synchronized KeyLock lock(String kind) {
        if (!kubernetes) {
            return KeyLock.inProcess();
        }
        LeaseLock lock = new LeaseLock(clients.get(), namespace(), kind, instance, config.leaseDuration(),
                config.renewInterval());
        locks.add(lock);
        return lock;
    }

    /** Whether this replica runs the singleton tasks now: the elected leader, or the only replica. */
    public boolean leader() {
        return leader;
    }

    /** How long a Lease outlives its holder's last renewal. */
    public java.time.Duration leaseDuration() {
        return config.leaseDuration();
    }

    private String namespace() {
        return config.namespace().orElseGet(() -> Optional.ofNullable(clients.get().getNamespace()).orElse("default"));
    }

    /** Runs for leadership until shutdown; fabric8's elector returns when leadership is lost, so it is started again. */
    private void elect() {
        if (stopping) {
            return;
        }
        String name = "lifeboat-" + service.replaceFirst("^lifeboat-", "") + "-leader";
        LeaderElector elector = new LeaderElector(clients.get(), new LeaderElectionConfigBuilder()
                .withName(name)
                .withLock(new io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock(namespace(),
                        name, instance))
                .withLeaseDuration(config.leaseDuration())
                .withRenewDeadline(config.leaseDuration().multipliedBy(2).dividedBy(3))
                .withRetryPeriod(config.renewInterval())
                .withReleaseOnCancel(true)
                .withLeaderCallbacks(new LeaderCallbacks(
                        () -> {
                            leader = true;
                            LOG.infof("This replica (%s) leads %s: it runs the singleton tasks", instance, name);
                        },
                        () -> {
                            leader = false;
                            LOG.infof("This replica (%s) no longer leads %s", instance, name);
                        },
                        newLeader -> LOG.debugf("Leader of %s: %s", name, newLeader)))
                .build(), electorThreads);
        election = elector.start();
        election.whenComplete((ok, error) -> {
            leader = false;
            if (!stopping) {
                elect();
            }
        });
    }

    /** After the services' own shutdown (a later priority), which still release their Leases through the locks. */
    void onStop(@Observes @Priority(Interceptor.Priority.LIBRARY_AFTER + 1000) ShutdownEvent event) {
        stopping = true;
        CompletableFuture<?> e = election;
        if (e != null) {
            e.cancel(true); // releases the leader Lease (releaseOnCancel)
        }
        leader = false;
        synchronized (this) {
            locks.forEach(LeaseLock::close);
        }
        electorThreads.shutdownNow();
    }
}
