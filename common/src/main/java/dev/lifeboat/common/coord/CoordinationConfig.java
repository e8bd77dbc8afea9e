package dev.lifeboat.common.coord;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/**
 * How replicas of a service coordinate ({@code lifeboat.coordination.*}): through Kubernetes Leases in a cluster, in
 * process otherwise. Shared by every service.
 */
@ConfigMapping(prefix = "lifeboat.coordination")
public interface CoordinationConfig {

    /** Where locks live. */
    enum Mode {
        /** Kubernetes when running in a pod (KUBERNETES_SERVICE_HOST set or a service account token mounted). */
        AUTO,
        /** Leases in the namespace of the Kubernetes client, shared by every replica. */
        KUBERNETES,
        /** In-process locks: one replica only. */
        LOCAL
    }

    /** {@code auto}, {@code kubernetes} or {@code local}. */
    @WithDefault("auto")
    Mode mode();

    /**
     * How long a Lease stays valid without a renewal: a replica that dies loses its locks (and leadership) this long
     * after its last renewal, and another takes over.
     */
    @WithDefault("15s")
    Duration leaseDuration();

    /** How often held Leases are renewed; must be shorter than a third of {@code lease-duration}. */
    @WithDefault("4s")
    Duration renewInterval();

    /** The namespace of the Leases; unset = the Kubernetes client's (the pod's own namespace). */
    Optional<String> namespace();
}
