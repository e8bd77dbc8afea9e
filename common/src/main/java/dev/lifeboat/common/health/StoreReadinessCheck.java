package dev.lifeboat.common.health;

import dev.lifeboat.common.store.ObjectStore;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready only while the object store can be reached: without it no backup can be written or read. */
@Readiness
@ApplicationScoped
public class StoreReadinessCheck implements HealthCheck {
    private final ObjectStore store;

    public StoreReadinessCheck(ObjectStore store) {
        this.store = store;
    }

    @Override
    public HealthCheckResponse call() {
        try {
            store.checkReachable();
            return HealthCheckResponse.up("object-store");
        } catch (Exception e) {
            return HealthCheckResponse.named("object-store").down().withData("error", String.valueOf(e.getMessage())).build();
        }
    }
}
