package dev.lifeboat.common.job;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.job.JobRegistryTest.TestJob;
import dev.lifeboat.common.store.FilesystemObjectStore;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.TempDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Job records in a real (filesystem) store, as two replicas see them: a job running on one is active for the other;
 * one that ended, or whose replica went silent, is not.
 */
class JobJournalTest {
    private static final Duration SILENCE = Duration.ofMillis(1500);
    private final Path dir = temp();
    private final FilesystemObjectStore store = new FilesystemObjectStore(dir);
    private final JobJournal a = new JobJournal(store, "test", "replica-a", Duration.ofMillis(200), SILENCE);
    private final JobJournal b = new JobJournal(store, "test", "replica-b", Duration.ofMillis(200), SILENCE);

    @AfterEach
    void close() {
        a.close();
        b.close();
        TempDirs.delete(dir);
    }

    @Test
    void anotherReplicasRunningJobIsActiveUntilItEndsOrItsReplicaGoesSilent() throws Exception {
        TestJob running = new TestJob(false);
        TestJob ending = new TestJob(false);
        TestJob silent = new TestJob(true);
        a.track(running.id(), () -> record(running, "replica-a"));
        a.track(ending.id(), () -> record(ending, "replica-a"));
        JobJournal dying = new JobJournal(store, "test", "replica-c", Duration.ofMillis(200), SILENCE);
        dying.track(silent.id(), () -> record(silent, "replica-c"));

        assertThat(b.active("").stream().map(JobRecord::id)).containsExactlyInAnyOrder(running.id(), ending.id(),
                silent.id());
        JobRecord seen = b.active("").stream().filter(r -> r.id().equals(silent.id())).findFirst().orElseThrow();
        assertThat(seen.state()).isEqualTo(JobState.QUEUED);
        assertThat(seen.holder()).isEqualTo("replica-c");

        ending.complete(null);
        a.end(ending.id());
        dying.close(); // replica-c stops reporting, as if killed
        assertThat(b.active("").stream().map(JobRecord::id)).doesNotContain(ending.id());
        assertThat(b.read(ending.id()).orElseThrow().state()).isEqualTo(JobState.COMPLETED);

        Poll.value("replica-c's job no longer active", Duration.ofSeconds(10),
                () -> b.active("").stream().noneMatch(r -> r.id().equals(silent.id())) ? true : null);
        assertThat(b.read(silent.id()).orElseThrow().state()).isEqualTo(JobState.ABANDONED);
        // replica-a kept reporting its running job all along
        assertThat(b.active("").stream().map(JobRecord::id)).containsExactly(running.id());
        assertThat(b.active("other_")).isEmpty();
    }

    @Test
    void theListHoldsEveryJobsNewestRecordOnceInIdOrder() throws Exception { // versions: QUEUED, RUNNING, ended
        TestJob done = new TestJob(true);
        TestJob running = new TestJob(true);
        a.track(done.id(), () -> record(done, "replica-a"));
        a.track(running.id(), () -> record(running, "replica-a"));
        done.start();
        a.report(done.id());
        done.complete(null);
        a.end(done.id());
        running.start();
        Poll.until("the running job's heartbeat written", Duration.ofSeconds(10),
                () -> b.read(running.id()).orElseThrow().state() == JobState.RUNNING);

        java.util.List<JobRecord> listed = b.list("");
        assertThat(listed).extracting(JobRecord::id).containsExactly(
                java.util.stream.Stream.of(done.id(), running.id()).sorted().toArray(String[]::new));
        assertThat(listed).filteredOn(r -> r.id().equals(done.id())).extracting(JobRecord::state)
                .containsExactly(JobState.COMPLETED);
        assertThat(listed).filteredOn(r -> r.id().equals(running.id())).extracting(JobRecord::state)
                .containsExactly(JobState.RUNNING);
        assertThat(b.list("other_")).isEmpty();
    }

    private static JobRecord record(TestJob job, String holder) {
        return JobRecord.of(job, "test", null, holder, Map.of(), Map.of());
    }

    private static Path temp() {
        try {
            return Files.createTempDirectory("journal-");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
