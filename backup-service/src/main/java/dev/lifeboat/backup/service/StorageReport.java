package dev.lifeboat.backup.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.store.BucketLifecycle;
import dev.lifeboat.common.store.ObjectStore;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What {@code GET /api/v1/storage} shows: the bucket lifecycle rules in force (Lifeboat's and others', marked), and
 * per database the bytes in each storage class (from the listing, which names each object's class; the filesystem
 * store's are all STANDARD) with an estimated monthly cost from {@code lifeboat.store.prices.*}. Everything under a
 * database's prefix counts: data, metadata, verification records. Classes without a configured price (ONEZONE_IA,
 * GLACIER_IR, INTELLIGENT_TIERING...) are priced as STANDARD and listed in {@code pricedAsStandard}.
 */
@ApplicationScoped
public class StorageReport {
    /** AWS bills storage per GB-month of 2^30 bytes. */
    static final double GB = 1024.0 * 1024 * 1024;

    private final ObjectStore store;
    private final StoreConfig config;
    private final DatabaseRegistry databases;
    private final BackupCatalog catalog;

    public StorageReport(ObjectStore store, StoreConfig config, DatabaseRegistry databases, BackupCatalog catalog) {
        this.store = store;
        this.config = config;
        this.databases = databases;
        this.catalog = catalog;
    }

    /** The whole report. */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record View(String store, Lifecycle lifecycle, Map<String, Double> pricesPerGbMonth,
                       List<DatabaseUsage> databases) {
    }

    /**
     * The lifecycle rules of the bucket; null for a store without (filesystem).
     *
     * @param managed {@code lifeboat.store.s3.lifecycle.manage}
     * @param error   why the rules could not be read (e.g. no s3:GetLifecycleConfiguration permission)
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Lifecycle(boolean managed, List<BucketLifecycle.Rule> rules, String error) {
    }

    /** One database's objects. */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DatabaseUsage(String database, String prefix, long objects, long bytes,
                                Map<String, Long> bytesByStorageClass, double estimatedMonthlyCostUsd,
                                List<String> pricedAsStandard) {
    }

    public View view() {
        Lifecycle lifecycle = store.lifecycle().map(l -> {
            try {
                return new Lifecycle(config.s3().lifecycle().manage(), l.rules(), null);
            } catch (IOException e) {
                return new Lifecycle(config.s3().lifecycle().manage(), null, e.getMessage());
            }
        }).orElse(null);
        Map<String, Double> prices = prices(config.prices());
        List<DatabaseUsage> usage = new ArrayList<>();
        for (String label : databases.labels()) {
            String prefix = catalog.prefix(label);
            List<ObjectStore.ObjectInfo> objects;
            try {
                objects = store.list(prefix + "/");
            } catch (IOException e) {
                throw new StoreUnavailable("Cannot list the backups of " + label + ": " + e.getMessage(), e);
            }
            usage.add(usage(label, prefix, objects, prices));
        }
        String where = store.locate("x"); // the store's root: where a top-level key "x" would be, without it
        return new View(where.substring(0, where.length() - 1), lifecycle, prices, usage);
    }

    static Map<String, Double> prices(StoreConfig.Prices p) {
        Map<String, Double> out = new TreeMap<>();
        out.put("STANDARD", p.standard());
        out.put("STANDARD_IA", p.standardIa());
        out.put("GLACIER", p.glacier());
        out.put("DEEP_ARCHIVE", p.deepArchive());
        return out;
    }

    /** Bytes per class and the monthly cost of {@code objects} at {@code prices} (USD per GB-month). */
    static DatabaseUsage usage(String label, String prefix, List<ObjectStore.ObjectInfo> objects,
                               Map<String, Double> prices) {
        Map<String, Long> bytes = new TreeMap<>();
        long total = 0;
        for (ObjectStore.ObjectInfo o : objects) {
            bytes.merge(o.storageClass(), o.size(), Long::sum);
            total += o.size();
        }
        double cost = 0;
        List<String> unpriced = new ArrayList<>();
        for (Map.Entry<String, Long> e : bytes.entrySet()) {
            Double price = prices.get(e.getKey());
            if (price == null) {
                unpriced.add(e.getKey());
                price = prices.get("STANDARD");
            }
            cost += e.getValue() / GB * price;
        }
        return new DatabaseUsage(label, prefix, objects.size(), total, bytes, Math.round(cost * 1e6) / 1e6,
                unpriced.isEmpty() ? null : unpriced);
    }
}
