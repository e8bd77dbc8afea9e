package dev.lifeboat.common.pipeline;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * zstd compression (zstd-jni), the default: compatible with {@code zstd -d}. Compression is the slowest stage of
 * the pipeline, so it can use several native worker threads.
 */
public record ZstdStage(int level, int workers) implements Stage {
    /**
     * Bytes of input per worker job. zstd's default at level 3 is 8 MiB, and it holds a few jobs' input and output at
     * once: 55 MiB resident for `zstd -3 -T2` on the bench dump against 19 MiB with 2 MiB jobs, which compress as
     * well (171.7 MB against 172.6 MB) and as fast. The service's memory stays flat with that.
     */
    static final int JOB_SIZE = 2 << 20;

    @Override
    public OutputStream wrap(OutputStream out) throws IOException {
        ZstdOutputStreamNoFinalizer z = new ZstdOutputStreamNoFinalizer(out, level);
        z.setChecksum(true); // as the zstd CLI does: damage is caught even without encryption
        if (workers > 0) {
            z.setWorkers(workers);
            z.setJobSize(JOB_SIZE);
        }
        return z;
    }

    @Override
    public InputStream unwrap(InputStream in) throws IOException {
        return new BufferedInputStream(new ZstdInputStreamNoFinalizer(in), 1 << 16);
    }

    @Override
    public String suffix() {
        return ".zst";
    }
}
