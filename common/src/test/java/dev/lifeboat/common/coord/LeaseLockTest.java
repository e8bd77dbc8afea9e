package dev.lifeboat.common.coord;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.job.KeyLock.Holder;
import dev.lifeboat.common.testing.KubernetesApi;
import dev.lifeboat.common.testing.Poll;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link LeaseLock} against the fabric8 mock Kubernetes API in CRUD mode, as replicas would use it: acquire,
 * contention between replicas (one winner, the others told who holds it), takeover of an expired Lease, renewal
 * keeping a Lease past its duration, release, and Lease names valid for any key.
 */
class LeaseLockTest {
    private static final String NS = "lifeboat";
    private static KubernetesApi api;
    private static KubernetesClient client;

    @BeforeAll
    static void start() {
        api = new KubernetesApi();
        client = api.client();
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    private static LeaseLock lock(String pod, Duration duration, Duration renew) {
        return new LeaseLock(client, NS, "backup", pod, duration, renew);
    }

    private static Lease lease(String name) {
        return client.leases().inNamespace(NS).withName(name).get();
    }

    @Test
    void acquireCreatesALeaseHeldByThePodAndReleaseClearsIt() {
        try (LeaseLock a = lock("pod-a", Duration.ofSeconds(30), Duration.ofSeconds(5))) {
            assertThat(a.tryAcquire("acquire", "job-1")).isEmpty();
            Lease lease = lease("lifeboat-backup-acquire");
            assertThat(lease.getSpec().getHolderIdentity()).isEqualTo("pod-a");
            assertThat(lease.getSpec().getLeaseDurationSeconds()).isEqualTo(30);
            assertThat(lease.getMetadata().getAnnotations()).containsEntry(LeaseLock.JOB_ANNOTATION, "job-1");
            assertThat(a.tryAcquire("acquire", "job-1")).as("re-entrant for the same job").isEmpty();
            assertThat(a.tryAcquire("acquire", "job-2")).contains(new Holder("job-1", "pod-a"));

            a.release("acquire", "job-1");
            assertThat(lease("lifeboat-backup-acquire").getSpec().getHolderIdentity()).isNull();
            assertThat(a.holder("acquire")).isEmpty();
            assertThat(a.tryAcquire("acquire", "job-2")).isEmpty();
        }
    }

    @Test
    void ofReplicasRacingForOneKeyExactlyOneWinsAndTheOthersNameIt() throws Exception {
        List<LeaseLock> replicas = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int i = 0; i < 4; i++) {
                replicas.add(lock("pod-" + i, Duration.ofSeconds(30), Duration.ofSeconds(5)));
            }
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Optional<Holder>>> results = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                LeaseLock replica = replicas.get(i);
                String job = "job-" + i;
                results.add(pool.submit(() -> {
                    go.await();
                    return replica.tryAcquire("race", job);
                }));
            }
            go.countDown();
            List<Optional<Holder>> outcomes = new ArrayList<>();
            for (Future<Optional<Holder>> f : results) {
                outcomes.add(f.get());
            }
            assertThat(outcomes.stream().filter(Optional::isEmpty).count()).as("winners").isEqualTo(1);
            String winner = lease("lifeboat-backup-race").getSpec().getHolderIdentity();
            String winnerJob = "job-" + winner.substring("pod-".length());
            assertThat(outcomes.stream().filter(Optional::isPresent).map(Optional::get))
                    .hasSize(3).allMatch(h -> h.equals(new Holder(winnerJob, winner)));
        } finally {
            pool.shutdownNow();
            replicas.forEach(LeaseLock::close);
        }
    }

    @Test
    void anExpiredLeaseIsTakenOverAndTheFormerHolderLearnsItLostIt() {
        LeaseLock dead = lock("pod-dead", Duration.ofSeconds(3), Duration.ofMillis(500));
        LeaseLock alive = lock("pod-alive", Duration.ofSeconds(3), Duration.ofMillis(500));
        try {
            assertThat(dead.tryAcquire("expiry", "job-dead")).isEmpty();
            List<String> lost = new java.util.concurrent.CopyOnWriteArrayList<>();
            dead.onLost((name, job) -> lost.add(job));
            // the holder dies: a stalled renewer is what a SIGKILLed pod looks like from the API
            Lease held = lease("lifeboat-backup-expiry");
            held.getSpec().setRenewTime(ZonedDateTime.now().minusSeconds(10));
            client.resource(held).update();
            dead.stopRenewing();

            assertThat(alive.tryAcquire("expiry", "job-alive")).isEmpty();
            Lease taken = lease("lifeboat-backup-expiry");
            assertThat(taken.getSpec().getHolderIdentity()).isEqualTo("pod-alive");
            assertThat(taken.getSpec().getLeaseTransitions()).isEqualTo(1);
            dead.renewAll();
            assertThat(lost).containsExactly("job-dead");
            assertThat(lease("lifeboat-backup-expiry").getSpec().getHolderIdentity()).isEqualTo("pod-alive");
        } finally {
            dead.close();
            alive.close();
        }
    }

    @Test
    void aHeldLeaseIsRenewedPastItsDuration() {
        try (LeaseLock a = lock("pod-renew", Duration.ofSeconds(2), Duration.ofMillis(300));
             LeaseLock b = lock("pod-other", Duration.ofSeconds(2), Duration.ofMillis(300))) {
            assertThat(a.tryAcquire("renew", "job-a")).isEmpty();
            ZonedDateTime first = lease("lifeboat-backup-renew").getSpec().getRenewTime();
            // renewed until three lease durations after the first acquisition, and still held then
            Poll.until("renewed past three lease durations", Duration.ofSeconds(15),
                    () -> lease("lifeboat-backup-renew").getSpec().getRenewTime().isAfter(first.plusSeconds(6)));
            assertThat(lease("lifeboat-backup-renew").getSpec().getHolderIdentity()).isEqualTo("pod-renew");
            assertThat(b.tryAcquire("renew", "job-b")).contains(new Holder("job-a", "pod-renew"));
        }
    }

    @Test
    void aJobRegistryOnAnotherReplicaIsRefusedWithTheHoldersJobAndPodAndFreedWhenTheJobEnds() {
        try (LeaseLock a = lock("pod-a", Duration.ofSeconds(30), Duration.ofSeconds(5));
             LeaseLock b = lock("pod-b", Duration.ofSeconds(30), Duration.ofSeconds(5))) {
            dev.lifeboat.common.job.JobRegistry<Work> onA = new dev.lifeboat.common.job.JobRegistry<>(a, 5,
                    (key, job, pod) -> new dev.lifeboat.common.error.Errors.RestoreInProgress(key, job, pod));
            dev.lifeboat.common.job.JobRegistry<Work> onB = new dev.lifeboat.common.job.JobRegistry<>(b, 5,
                    (key, job, pod) -> new dev.lifeboat.common.error.Errors.RestoreInProgress(key, job, pod));
            Work first = onA.register("primary", new Work("restore_20260101_020000_aaaaaa"));
            assertThatThrownBy(() -> onB.register("primary", new Work("restore_20260101_020001_bbbbbb")))
                    .isInstanceOf(dev.lifeboat.common.error.Errors.RestoreInProgress.class)
                    .hasMessageContaining("restore_20260101_020000_aaaaaa on replica pod-a");
            assertThat(onB.holder("primary")).contains(new Holder("restore_20260101_020000_aaaaaa", "pod-a"));
            onA.finish(first);
            assertThat(first.done()).isCompleted();
            assertThat(onB.holder("primary")).isEmpty();
            assertThat(onB.register("primary", new Work("restore_20260101_020002_cccccc"))).isNotNull();
        }
    }

    /** A job for the registry test. */
    static final class Work extends dev.lifeboat.common.job.Job<Work.Phase> {
        enum Phase { RUN }

        Work(String id) {
            super(id, false);
        }
    }

    @Test
    void theRenewIntervalMustBeShorterThanAThirdOfTheDuration() {
        assertThatThrownBy(() -> lock("pod", Duration.ofSeconds(9), Duration.ofSeconds(3)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void leaseNamesAreDns1123LabelsAndDistinctKeysNeverShareOne() {
        assertThat(LeaseNames.of("backup", "main")).isEqualTo("lifeboat-backup-main");
        String underscored = LeaseNames.of("backup", "Main_DB");
        String dashed = LeaseNames.of("backup", "main-db");
        assertThat(underscored).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?").hasSizeLessThanOrEqualTo(63)
                .startsWith("lifeboat-backup-main-db-").isNotEqualTo(dashed);
        String longKey = "x".repeat(200);
        assertThat(LeaseNames.of("restore", longKey)).hasSizeLessThanOrEqualTo(63)
                .isNotEqualTo(LeaseNames.of("restore", longKey + "y"));
    }
}
