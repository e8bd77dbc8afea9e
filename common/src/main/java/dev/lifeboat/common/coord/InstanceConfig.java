package dev.lifeboat.common.coord;

import io.smallrye.config.ConfigMapping;
import java.util.Optional;

/** Which replica this is ({@code lifeboat.instance-id}): the Lease holder and the holder shown on its jobs. */
@ConfigMapping(prefix = "lifeboat")
public interface InstanceConfig {
    /** This replica's name; unset = the pod name ({@code POD_NAME}, else {@code HOSTNAME}), else {@code local}. */
    Optional<String> instanceId();
}
