package dev.lifeboat.common.store;

import dev.lifeboat.common.config.StoreConfig;
import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.time.Duration;
import java.util.Map;

/** The real {@link StoreConfig} mapping, defaults included, read from a map: what the services get from their files. */
final class StoreConfigs {
    private StoreConfigs() {
    }

    static StoreConfig of(Map<String, String> properties) {
        SmallRyeConfig config = new SmallRyeConfigBuilder()
                .withMapping(StoreConfig.class)
                .withConverter(Duration.class, 200, new DurationConverter()) // "200ms", as in Quarkus
                .withSources(new PropertiesConfigSource(properties, "test", 100))
                .build();
        return config.getConfigMapping(StoreConfig.class);
    }
}
