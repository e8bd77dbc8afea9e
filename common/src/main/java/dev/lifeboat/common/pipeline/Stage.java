package dev.lifeboat.common.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * One transformation of the backup stream (compression or encryption). {@link #wrap} is used when writing a
 * backup, {@link #unwrap} when reading one back; closing the wrapping stream finishes the stage (trailer, last
 * chunk) and closes the stream below.
 */
public interface Stage {
    OutputStream wrap(OutputStream out) throws IOException;

    InputStream unwrap(InputStream in) throws IOException;

    /** The file-name suffix this stage adds, e.g. {@code .zst}. */
    String suffix();
}
