package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.store.ObjectStore.ObjectExistsException;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import dev.lifeboat.common.store.ObjectStore.ObjectNotFoundException;
import dev.lifeboat.common.store.ObjectStore.PendingObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@link ObjectStore} contract: every implementation extends this class and gets a fresh, empty store from
 * {@link #newStore()} for each test.
 */
abstract class ObjectStoreContract {
    static final int BIG = 12 * 1024 * 1024;

    protected ObjectStore store;

    /** A new, empty store. */
    protected abstract ObjectStore newStore() throws IOException;

    @BeforeEach
    void freshStore() throws IOException {
        store = newStore();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    byte[] read(String key) throws IOException {
        try (InputStream in = store.open(key)) {
            return in.readAllBytes();
        }
    }

    void assertNothingLeft(String prefix) throws IOException {
        assertThat(store.list(prefix)).isEmpty();
        assertThat(store.pending(prefix)).isEmpty();
    }

    @Test
    void commitMakesObjectVisibleWithExactBytesAndSize() throws IOException {
        byte[] content = bytes("hello, lifeboat\n\u00e9\u0000end");
        try (PendingObject out = store.create("db/one.sql")) {
            out.write(content, 0, 5);
            out.write(content[5]);
            out.write(content, 6, content.length - 6);
            out.commit();
        }
        assertThat(read("db/one.sql")).isEqualTo(content);
        assertThat(store.stat("db/one.sql")).contains(new ObjectInfo("db/one.sql", content.length));
        assertThat(store.list("db/")).containsExactly(new ObjectInfo("db/one.sql", content.length));
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void emptyObjectCanBeCommitted() throws IOException {
        try (PendingObject out = store.create("db/empty")) {
            out.commit();
        }
        assertThat(store.stat("db/empty")).contains(new ObjectInfo("db/empty", 0));
        assertThat(read("db/empty")).isEmpty();
    }

    @Test
    void uncommittedObjectIsInvisibleToStatOpenAndList() throws IOException {
        try (PendingObject out = store.create("db/pending.sql")) {
            out.write(bytes("partial content"));
            out.flush();
            assertThat(store.stat("db/pending.sql")).isEmpty();
            assertThatThrownBy(() -> store.open("db/pending.sql")).isInstanceOf(ObjectNotFoundException.class);
            assertThat(store.list("")).isEmpty();
            assertThat(store.list("db/")).isEmpty();
            out.commit();
        }
        assertThat(store.list("")).extracting(ObjectInfo::key).containsExactly("db/pending.sql");
    }

    @Test
    void abortLeavesNothing() throws IOException {
        PendingObject out = store.create("db/aborted.sql");
        out.write(random(100_000, 1));
        out.abort();
        out.abort(); // safe twice
        out.close();
        assertNothingLeft("");
        assertThat(store.stat("db/aborted.sql")).isEmpty();
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws IOException {
        try (PendingObject out = store.create("db/closed.sql")) {
            out.write(random(100_000, 2));
        }
        assertNothingLeft("");
        assertThat(store.stat("db/closed.sql")).isEmpty();
    }

    @Test
    void commitAfterAbortFailsAndLeavesNothing() throws IOException {
        PendingObject out = store.create("db/x");
        out.write(bytes("abc"));
        out.abort();
        assertThatThrownBy(out::commit).isInstanceOf(IOException.class);
        assertNothingLeft("");
    }

    @Test
    void createOnExistingKeyFailsAndOriginalIsUntouched() throws IOException {
        byte[] original = bytes("original");
        store.putIfAbsent("db/a", original);
        assertThatThrownBy(() -> {
            try (PendingObject out = store.create("db/a")) {
                out.write(bytes("replacement"));
                out.commit();
            }
        }).isInstanceOf(ObjectExistsException.class);
        assertThat(read("db/a")).isEqualTo(original);
        assertThat(store.stat("db/a")).contains(new ObjectInfo("db/a", original.length));
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void secondCommitOnSameKeyFailsAndFirstWins() throws IOException {
        PendingObject first = store.create("db/race");
        PendingObject second = store.create("db/race");
        first.write(bytes("first"));
        second.write(bytes("second writer"));
        first.commit();
        assertThatThrownBy(second::commit).isInstanceOf(ObjectExistsException.class);
        second.close();
        first.close();
        assertThat(read("db/race")).isEqualTo(bytes("first"));
        assertThat(store.list("")).containsExactly(new ObjectInfo("db/race", 5));
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void putIfAbsentTwiceFailsTheSecondTime() throws IOException {
        store.putIfAbsent("db/meta.json", bytes("{\"v\":1}"));
        assertThatThrownBy(() -> store.putIfAbsent("db/meta.json", bytes("{\"v\":2}")))
                .isInstanceOf(ObjectExistsException.class);
        assertThat(read("db/meta.json")).isEqualTo(bytes("{\"v\":1}"));
        assertThat(store.pending("")).isEmpty();
    }

    @Test
    void openOfAbsentKeyThrowsObjectNotFound() {
        assertThatThrownBy(() -> store.open("db/missing")).isInstanceOfSatisfying(ObjectNotFoundException.class, e -> {
            assertThat(e).isInstanceOf(StoreException.NotFound.class);
            assertThat(e.outcome()).isEqualTo(StoreException.Outcome.NOT_FOUND);
            assertThat(e.operation()).isEqualTo(StoreOperation.OPEN);
            assertThat(e.key()).isEqualTo("db/missing");
            assertThat(e.getMessage()).contains("db/missing");
        });
    }

    @Test
    void aTakenKeyIsAConflictNamingTheKey() throws IOException {
        store.putIfAbsent("db/taken", bytes("first"));
        assertThatThrownBy(() -> store.create("db/taken")).isInstanceOfSatisfying(ObjectExistsException.class, e -> {
            assertThat(e).isInstanceOf(StoreException.Conflict.class);
            assertThat(e.outcome()).isEqualTo(StoreException.Outcome.CONFLICT);
            assertThat(e.key()).isEqualTo("db/taken");
        });
        PendingObject late = store.create("db/late");
        late.write(bytes("late"));
        store.putIfAbsent("db/late", bytes("early"));
        assertThatThrownBy(late::commit).isInstanceOfSatisfying(ObjectExistsException.class,
                e -> assertThat(e.key()).isEqualTo("db/late"));
        late.close();
        assertThat(read("db/late")).isEqualTo(bytes("early"));
    }

    @Test
    void statOfAbsentKeyIsEmpty() throws IOException {
        assertThat(store.stat("db/missing")).isEmpty();
        assertThat(store.stat("missing")).isEmpty();
    }

    @Test
    void deleteOfAbsentKeyIsFine() throws IOException {
        store.delete("db/missing");
        store.delete("missing");
        assertThat(store.list("")).isEmpty();
    }

    @Test
    void deleteRemovesCommittedObject() throws IOException {
        store.putIfAbsent("db/gone", bytes("x"));
        store.putIfAbsent("db/kept", bytes("y"));
        store.delete("db/gone");
        assertThat(store.stat("db/gone")).isEmpty();
        assertThat(store.list("")).extracting(ObjectInfo::key).containsExactly("db/kept");
        // a deleted key can be created again
        store.putIfAbsent("db/gone", bytes("again"));
        assertThat(read("db/gone")).isEqualTo(bytes("again"));
    }

    @Test
    void prefixOfOtherKeysIsNotAnObject() throws IOException {
        store.putIfAbsent("db/inner/x.sql", bytes("x"));
        assertThat(store.stat("db/inner")).isEmpty();
        assertThat(store.stat("db")).isEmpty();
        assertThatThrownBy(() -> store.open("db/inner")).isInstanceOf(ObjectNotFoundException.class);
        store.delete("db/inner");
        store.delete("db");
        assertThat(store.list("")).containsExactly(new ObjectInfo("db/inner/x.sql", 1));
        assertThat(read("db/inner/x.sql")).isEqualTo(bytes("x"));
    }

    @Test
    void listByPrefixReturnsOnlyThatPrefixSortedByKey() throws IOException {
        for (String key : new String[] {"database/b/z.sql", "database/a/metadata/2.json", "database/a/x.sql",
                "database/a/metadata/1.json", "database/ab/y.sql", "other/a.sql", "database/a/b/c/deep.sql"}) {
            store.putIfAbsent(key, bytes(key));
        }
        assertThat(store.list("database/a/")).extracting(ObjectInfo::key).containsExactly(
                "database/a/b/c/deep.sql", "database/a/metadata/1.json", "database/a/metadata/2.json", "database/a/x.sql");
        assertThat(store.list("database/a/metadata/")).extracting(ObjectInfo::key)
                .containsExactly("database/a/metadata/1.json", "database/a/metadata/2.json");
        assertThat(store.list("database/a")).extracting(ObjectInfo::key).contains("database/ab/y.sql").hasSize(5);
        assertThat(store.list("nothing/")).isEmpty();
        assertThat(store.list("")).hasSize(7).isSortedAccordingTo((x, y) -> x.key().compareTo(y.key()));
        assertThat(store.list("database/a/x.sql")).containsExactly(new ObjectInfo("database/a/x.sql", 16));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "a/../../x", "/abs", "a//b", "a/./b", "./a", "a/", "", "a/..", "nul\u0000byte"})
    void invalidKeysAreRejected(String key) {
        assertThatThrownBy(() -> store.create(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.putIfAbsent(key, new byte[1])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.open(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.stat(key)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.delete(key)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void nullKeyIsRejected() {
        assertThatThrownBy(() -> store.create(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void largeRandomObjectRoundTripsByteIdentical() throws IOException {
        byte[] content = random(BIG, 42);
        try (PendingObject out = store.create("db/big.bin")) {
            // odd-sized writes so part boundaries fall inside writes
            int off = 0;
            int step = 777_777;
            while (off < content.length) {
                int n = Math.min(step, content.length - off);
                out.write(content, off, n);
                off += n;
            }
            out.commit();
        }
        assertThat(store.stat("db/big.bin")).contains(new ObjectInfo("db/big.bin", BIG));
        assertThat(read("db/big.bin")).isEqualTo(content);
        afterLargeObjectCommitted("db/big.bin");
    }

    /** Implementation-specific checks on the 12 MiB object of {@link #largeRandomObjectRoundTripsByteIdentical}. */
    protected void afterLargeObjectCommitted(String key) throws IOException {
    }

    @Test
    void checkReachableSucceedsOnAWorkingStore() throws IOException {
        store.checkReachable();
        assertThat(store.locate("db/a.sql")).endsWith("db/a.sql");
    }

    @Test
    void abortPendingRemovesOnlyWritesStartedBeforeTheCutOff() throws IOException {
        PendingObject stale = store.create("db/stale.bin");
        stale.write(random(BIG / 2, 7)); // more than one S3 part, so an upload exists
        assertThat(store.abortPending("db/", java.time.Instant.now().minusSeconds(3600))).isEmpty();
        assertThat(store.pending("db/")).containsExactly("db/stale.bin");
        assertThat(store.abortPending("other/", java.time.Instant.now().plusSeconds(60))).isEmpty();

        assertThat(store.abortPending("db/", java.time.Instant.now().plusSeconds(60))).hasSize(1)
                .allMatch(k -> k.startsWith("db/"));
        assertThat(store.pending("")).isEmpty();
        // the writer learns that its upload was taken away: a conflict, not a transient failure to retry
        assertThatThrownBy(stale::commit).isInstanceOfSatisfying(StoreException.Conflict.class,
                e -> assertThat(e.key()).isEqualTo("db/stale.bin"));
        stale.close();
        assertThat(store.list("")).isEmpty();
    }
}
