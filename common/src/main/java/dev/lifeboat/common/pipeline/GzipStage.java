package dev.lifeboat.common.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/** gzip compression, for compatibility with tools and habits built on {@code .sql.gz} (the seeds' format). */
public record GzipStage() implements Stage {
    @Override
    public OutputStream wrap(OutputStream out) throws IOException {
        return new GZIPOutputStream(out, 1 << 16);
    }

    @Override
    public InputStream unwrap(InputStream in) throws IOException {
        return new GZIPInputStream(in, 1 << 16);
    }

    @Override
    public String suffix() {
        return ".gz";
    }
}
