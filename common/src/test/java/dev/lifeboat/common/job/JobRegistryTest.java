package dev.lifeboat.common.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The one job registry: per-key exclusivity, a bounded history, waiting for a job, and the job life cycle. */
class JobRegistryTest {
    private static final JobIds IDS = new JobIds("test");

    enum StepName { ONE, TWO }

    static final class TestJob extends Job<StepName> {
        TestJob(boolean queued) {
            super(IDS.next(), queued);
        }

        void complete(String failure) {
            end(failure);
            release();
        }

        void start() {
            markRunning();
        }
    }

    static final class Busy extends RuntimeException {
        Busy(String key, String holder, String instance) {
            super(key + " held by " + holder);
        }
    }

    private final JobRegistry<TestJob> registry = new JobRegistry<>(KeyLock.inProcess(), 2, Busy::new);

    @Test
    void aKeyIsHeldByOneJobUntilItFinishes() {
        TestJob first = registry.register("main", new TestJob(false));
        assertThatThrownBy(() -> registry.register("main", new TestJob(false))).isInstanceOf(Busy.class)
                .hasMessage("main held by " + first.id());
        TestJob other = registry.register("other", new TestJob(false));
        assertThat(registry.active()).containsExactly(first, other);
        first.complete(null);
        registry.finish(first);
        TestJob second = registry.register("main", new TestJob(false));
        assertThat(registry.find(first.id())).contains(first);
        assertThat(registry.findActive(j -> j == second)).contains(second);
        assertThat(registry.idle()).isFalse();
    }

    @Test
    void aTaskThatIsNoJobHoldsAKeyOnlyIfItIsFreeAndOnlyWhileItRuns() {
        TestJob running = registry.register("main", new TestJob(false));
        boolean[] ran = {false};
        assertThat(registry.whileHolding("main", "recovery", () -> ran[0] = true)).isFalse();
        assertThat(ran[0]).as("a key held by a job is left alone").isFalse();

        assertThat(registry.whileHolding("other", "recovery", () -> {
            ran[0] = true;
            assertThatThrownBy(() -> registry.register("other", new TestJob(false))).isInstanceOf(Busy.class)
                    .hasMessage("other held by recovery");
        })).isTrue();
        assertThat(ran[0]).isTrue();
        assertThat(registry.holder("other")).as("released once the task ended").isEmpty();
        assertThat(registry.holder("main")).map(KeyLock.Holder::jobId).contains(running.id());
        registry.register("other", new TestJob(false));
    }

    @Test
    void theHistoryKeepsTheNewestFinishedJobsOnly() {
        TestJob a = finish(new TestJob(false));
        TestJob b = finish(new TestJob(false));
        TestJob c = finish(new TestJob(false));
        assertThat(registry.find(a.id())).isEmpty();
        assertThat(registry.finished()).containsExactly(c, b);
        assertThat(registry.all()).containsExactly(c, b);
        assertThat(registry.idle()).isTrue();
    }

    @Test
    void awaitReturnsOnceTheJobIsReleased() throws Exception {
        TestJob job = registry.register(null, new TestJob(true));
        assertThat(job.state()).isEqualTo(JobState.QUEUED);
        assertThat(job.startedAt()).isNull();
        CompletableFuture<TestJob> waiter = CompletableFuture.supplyAsync(() -> registry.await(job));
        job.start();
        job.log().begin(StepName.ONE, "first");
        assertThat(job.phase()).isEqualTo(StepName.ONE);
        job.log().failRunning("broke");
        assertThat(waiter).isNotDone();
        job.complete("broke");
        assertThat(waiter.get(Duration.ofSeconds(30).toSeconds(), TimeUnit.SECONDS)).isSameAs(job);
        assertThat(job.state()).isEqualTo(JobState.FAILED);
        assertThat(job.state().done()).isTrue();
        assertThat(job.error()).isEqualTo("broke");
        assertThat(job.steps()).singleElement().satisfies(s -> assertThat(s.status()).isEqualTo(Step.Status.FAILED));
        assertThat(job.finishedAt()).isNotNull();
    }

    @Test
    void idsAreValidatedAndCarryTheirCreationTime() {
        String id = IDS.next();
        assertThat(IDS.validate(id)).isEqualTo(id);
        assertThat(IDS.createdAt(id)).isPresent();
        assertThatThrownBy(() -> IDS.validate("test_1; DROP")).hasMessageContaining("test_20260101_020000_a1b2c3");
        assertThatThrownBy(() -> new JobIds("restore").validate(id)).hasMessageContaining("restore id");
    }

    private TestJob finish(TestJob job) {
        registry.register(job.id(), job);
        job.complete(null);
        registry.finish(job);
        return job;
    }
}
