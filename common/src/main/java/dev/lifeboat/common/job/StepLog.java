package dev.lifeboat.common.job;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The steps of a running job in the order they ran, with their timings. Written by the job's worker thread and
 * read by the API meanwhile, so every method is synchronized.
 *
 * @param <N> the job's closed set of step names
 */
public final class StepLog<N extends Enum<N>> {
    private final List<Step<N>> steps = new ArrayList<>();
    private long stepStartNanos;

    /** Starts a step. */
    public synchronized void begin(N name, String detail) {
        stepStartNanos = System.nanoTime();
        steps.add(new Step<>(name, Step.Status.RUNNING, Instant.now(), null, null, detail));
    }

    /** Ends the running step {@code name}; {@code detail} replaces the one given at the start unless null. */
    public synchronized void end(N name, Step.Status outcome, String detail) {
        for (int i = steps.size() - 1; i >= 0; i--) {
            Step<N> s = steps.get(i);
            if (s.name() == name && s.status() == Step.Status.RUNNING) {
                double seconds = Math.round((System.nanoTime() - stepStartNanos) / 1e8) / 10.0;
                steps.set(i, new Step<>(name, outcome, s.startedAt(), Instant.now(), seconds,
                        detail == null ? s.detail() : detail));
                return;
            }
        }
    }

    /** Replaces the detail of the running step {@code name} (a long wait saying where it stands). */
    public synchronized void detail(N name, String detail) {
        for (int i = steps.size() - 1; i >= 0; i--) {
            Step<N> s = steps.get(i);
            if (s.name() == name && s.status() == Step.Status.RUNNING) {
                steps.set(i, new Step<>(name, s.status(), s.startedAt(), null, null, detail));
                return;
            }
        }
    }

    /** Records a step that does not apply, with the reason. */
    public synchronized void skip(N name, String why) {
        steps.add(new Step<>(name, Step.Status.SKIPPED, null, null, null, why));
    }

    /** The step running now, if any. */
    public synchronized N running() {
        return steps.stream().filter(s -> s.status() == Step.Status.RUNNING).map(Step::name).findFirst().orElse(null);
    }

    /** Ends the running step, if any, as failed with {@code reason}; returns it. */
    public synchronized N failRunning(String reason) {
        N name = running();
        if (name != null) {
            end(name, Step.Status.FAILED, reason);
        }
        return name;
    }

    /** Whether a step of that name was started or skipped. */
    public synchronized boolean reached(N name) {
        return steps.stream().anyMatch(s -> s.name() == name);
    }

    /** The steps so far. */
    public synchronized List<Step<N>> list() {
        return List.copyOf(steps);
    }
}
