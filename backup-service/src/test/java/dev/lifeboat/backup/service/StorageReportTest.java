package dev.lifeboat.backup.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The cost estimate of {@code GET /api/v1/storage}: bytes per storage class times the configured prices. */
class StorageReportTest {
    private static final Map<String, Double> PRICES = Map.of("STANDARD", 0.023, "STANDARD_IA", 0.0125,
            "GLACIER", 0.004, "DEEP_ARCHIVE", 0.00099);
    private static final long GIB = 1L << 30;

    @Test
    void bytesArePricedPerClassAndUnknownClassesAsStandard() {
        StorageReport.DatabaseUsage u = StorageReport.usage("main", "database/main", List.of(
                new ObjectInfo("database/main/a", 10 * GIB, "GLACIER"),
                new ObjectInfo("database/main/b", 2 * GIB, "STANDARD_IA"),
                new ObjectInfo("database/main/metadata/a.json", GIB),
                new ObjectInfo("database/main/c", GIB, "GLACIER_IR")), PRICES);
        assertThat(u.bytesByStorageClass()).containsExactlyEntriesOf(new java.util.TreeMap<>(Map.of(
                "GLACIER", 10 * GIB, "STANDARD_IA", 2 * GIB, "STANDARD", GIB, "GLACIER_IR", GIB)));
        assertThat(u.objects()).isEqualTo(4);
        assertThat(u.bytes()).isEqualTo(14 * GIB);
        assertThat(u.estimatedMonthlyCostUsd()).isCloseTo(10 * 0.004 + 2 * 0.0125 + 0.023 + 0.023,
                org.assertj.core.data.Offset.offset(1e-9));
        assertThat(u.pricedAsStandard()).containsExactly("GLACIER_IR");
    }

    @Test
    void anEmptyDatabaseCostsNothing() {
        StorageReport.DatabaseUsage u = StorageReport.usage("x", "database/x", List.of(), PRICES);
        assertThat(u.estimatedMonthlyCostUsd()).isZero();
        assertThat(u.pricedAsStandard()).isNull();
    }
}
