package dev.lifeboat.common.store;

/**
 * The sizes of the parts of an S3 multipart upload whose total size is not known in advance (a backup stream), so
 * that no stream needs more parts than S3 allows (10,000) before it reaches S3's object size limit (5 TiB).
 *
 * <p>Part {@code n} (from 1) holds {@code min(MAX_PART_SIZE, base * 2^floor((n - 1) / 900))} bytes: the configured
 * size for the first 900 parts, then twice as much for every further 900. S3 takes parts of different sizes, all but
 * the last at least 5 MiB and none over 5 GiB; {@link #MAX_PART_SIZE} is 2047 MiB, the largest whole number of MiB a
 * Java array holds, since a part is buffered in one array.
 *
 * <p>The maths. With the smallest base S3 allows (5 MiB), parts 1–8,100 grow from 5 MiB to 1,280 MiB and hold
 * {@code 900 * 5 MiB * (2^9 - 1)} = 2,299,500 MiB; the other 1,900 parts hold 2047 MiB each, 3,889,300 MiB: 6,188,800
 * MiB in all, 5.9 TiB ≥ 5 TiB. A larger base only reaches more (16 MiB: 9.0 TiB). Memory: the upload buffers one
 * part, so a stream of {@code S} bytes holds at most {@code base + S / 900} bytes. At the default 16 MiB, parts stay
 * 16 MiB up to 14 GiB, are 32 MiB up to 42 GiB, 64 MiB up to 98 GiB, 128 MiB up to 211 GiB, 256 MiB up to 436 GiB,
 * 512 MiB up to 886 GiB and 1 GiB up to 1.7 TiB. A larger {@code lifeboat.store.s3.part-size} keeps the buffer flat
 * for longer.
 *
 * @param baseSize     size of the first parts, at least 5 MiB (smaller only in tests of the schedule itself)
 * @param maxParts     the most parts an upload may have (S3: 10,000; lowered in tests)
 * @param doublingEvery how many parts of one size before the size doubles
 */
public record PartSchedule(int baseSize, int maxParts, int doublingEvery) {
    /** S3's limit on the parts of one upload. */
    public static final int S3_MAX_PARTS = 10_000;
    /** Parts of one size before it doubles; chosen so that 10,000 parts of a 5 MiB base hold 5 TiB. */
    public static final int DOUBLING_EVERY = 900;
    /** The largest part: 2047 MiB, the largest whole number of MiB a Java byte array can hold (S3 allows 5 GiB). */
    public static final int MAX_PART_SIZE = 2047 * 1024 * 1024;
    /** S3's largest object. */
    public static final long S3_MAX_OBJECT_SIZE = 5L * 1024 * 1024 * 1024 * 1024;

    public PartSchedule {
        if (baseSize < 1 || baseSize > MAX_PART_SIZE) {
            throw new IllegalArgumentException("Part size must be between 1 byte and " + MAX_PART_SIZE + "; got " + baseSize);
        }
        if (maxParts < 1 || doublingEvery < 1) {
            throw new IllegalArgumentException("maxParts and doublingEvery must be positive");
        }
    }

    /** The schedule for S3 with the configured part size. */
    public static PartSchedule s3(int baseSize) {
        return new PartSchedule(baseSize, S3_MAX_PARTS, DOUBLING_EVERY);
    }

    /** The size of part {@code number} (1 to {@link #maxParts()}). */
    public int size(int number) {
        if (number < 1 || number > maxParts) {
            throw new IllegalArgumentException("Part number out of range: " + number);
        }
        int doublings = (number - 1) / doublingEvery;
        if (doublings >= 31) {
            return MAX_PART_SIZE;
        }
        return (int) Math.min((long) baseSize << doublings, MAX_PART_SIZE);
    }

    /** The most bytes an upload can hold: the sum of all part sizes. */
    public long capacity() {
        long total = 0;
        for (int n = 1; n <= maxParts; n++) {
            total += size(n);
        }
        return total;
    }
}
