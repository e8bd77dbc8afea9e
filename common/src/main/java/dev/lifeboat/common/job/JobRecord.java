package dev.lifeboat.common.job;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A job as stored under {@code jobs/} while it runs and after it ended, so any replica (or this one after a restart)
 * can answer for it: its state, the step running, its steps, progress counters, error, the replica holding it and
 * when that replica last reported ({@code heartbeat}).
 *
 * @param kind     {@code backup}, {@code restore}, {@code verification}
 * @param key      what it holds exclusively (the database, the target), or null
 * @param progress kind-specific counters, e.g. {@code bytesRead}, {@code bytesStored}
 * @param detail   kind-specific facts the API shows (trigger, backup id, ...)
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record JobRecord(String id, String kind, String key, JobState state, String phase, List<StepRecord> steps,
                        Map<String, Double> progress, Map<String, String> detail, String error, String holder,
                        Instant createdAt, Instant startedAt, Instant finishedAt, Instant heartbeat) {

    /** One step as stored: the name of the job's step enum as text. */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record StepRecord(String name, Step.Status status, Instant startedAt, Instant finishedAt, Double seconds,
                             String detail) {
        static StepRecord of(Step<?> s) {
            return new StepRecord(s.name().name(), s.status(), s.startedAt(), s.finishedAt(), s.seconds(), s.detail());
        }
    }

    /** The record of {@code job} now, as {@code holder} reports it. */
    public static JobRecord of(Job<?> job, String kind, String key, String holder, Map<String, Double> progress,
                               Map<String, String> detail) {
        Enum<?> phase = job.phase();
        return new JobRecord(job.id(), kind, key, job.state(), phase == null ? null : phase.name(),
                job.steps().stream().map(StepRecord::of).toList(), progress, detail, job.error(), holder,
                job.createdAt(), job.startedAt(), job.finishedAt(), Instant.now());
    }

    /**
     * This record as a reader should take it: a job not ended whose holder has not reported for {@code silence} is
     * {@link JobState#ABANDONED}, with the reason.
     */
    public JobRecord judged(Instant now, Duration silence) {
        if (state.done() || heartbeat == null || !heartbeat.plus(silence).isBefore(now)) {
            return this;
        }
        return abandoned("replica " + holder + " stopped reporting at " + heartbeat
                + " (killed, crashed or cut off) before the job ended");
    }

    /** This job, ended as ABANDONED for {@code reason}. */
    public JobRecord abandoned(String reason) {
        return new JobRecord(id, kind, key, JobState.ABANDONED, null, steps, progress, detail, reason, holder,
                createdAt, startedAt, finishedAt == null ? heartbeat : finishedAt, heartbeat);
    }

    /** Seconds it ran, or has been running until its last report. */
    public double elapsedSeconds() {
        if (startedAt == null) {
            return 0;
        }
        Instant end = finishedAt != null ? finishedAt : heartbeat;
        return end == null ? 0 : Math.round((end.toEpochMilli() - startedAt.toEpochMilli()) / 100.0) / 10.0;
    }
}
