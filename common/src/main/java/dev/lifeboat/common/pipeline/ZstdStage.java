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
    @Override
    public OutputStream wrap(OutputStream out) throws IOException {
        ZstdOutputStreamNoFinalizer z = new ZstdOutputStreamNoFinalizer(out, level);
        z.setChecksum(true); // as the zstd CLI does: damage is caught even without encryption
        if (workers > 0) {
            z.setWorkers(workers);
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
