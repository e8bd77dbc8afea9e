package dev.lifeboat.common.pipeline;

import dev.lifeboat.common.model.Compression;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The ordered stages between a dump and its stored bytes (DESIGN §2): compression, then encryption. The same
 * composition encodes a backup and, reversed, decodes it; for reading, the stages are found from the object's
 * suffixes, so any stored backup can be read without its metadata.
 */
public final class Codec {
    private final List<Stage> stages;

    private Codec(List<Stage> stages) {
        this.stages = List.copyOf(stages);
    }

    /** The codec for writing: compression (unless NONE), then age encryption when recipients are given. */
    public static Codec forWriting(Compression compression, int zstdLevel, int zstdWorkers, List<String> recipients) {
        List<Stage> stages = new ArrayList<>();
        switch (compression) {
            case ZSTD -> stages.add(new ZstdStage(zstdLevel, zstdWorkers));
            case GZIP -> stages.add(new GzipStage());
            case NONE -> {
            }
        }
        if (!recipients.isEmpty()) {
            stages.add(AgeStage.encryptingTo(recipients));
        }
        return new Codec(stages);
    }

    /** The codec that reads an object named {@code fileName}, decrypting with {@code identities} if needed. */
    public static Codec forReading(String fileName, List<String> identities) {
        List<Stage> stages = new ArrayList<>(); // in writing order: suffixes are peeled from the end
        String name = fileName;
        if (name.endsWith(".age")) {
            stages.add(0, AgeStage.decryptingWith(identities));
            name = name.substring(0, name.length() - 4);
        }
        if (name.endsWith(".zst")) {
            stages.add(0, new ZstdStage(0, 0));
        } else if (name.endsWith(".gz")) {
            stages.add(0, new GzipStage());
        }
        return new Codec(stages);
    }

    /** Suffixes added after the format's own ({@code .zst.age}). */
    public String suffix() {
        StringBuilder s = new StringBuilder();
        stages.forEach(stage -> s.append(stage.suffix()));
        return s.toString();
    }

    /** Wraps {@code sink}: bytes written to the result are compressed, then encrypted, then written to sink. */
    public OutputStream encode(OutputStream sink) throws IOException {
        OutputStream out = sink;
        for (int i = stages.size() - 1; i >= 0; i--) {
            out = stages.get(i).wrap(out);
        }
        return out;
    }

    /** Wraps {@code source}: reading the result decrypts, then decompresses. */
    public InputStream decode(InputStream source) throws IOException {
        InputStream in = source;
        for (int i = stages.size() - 1; i >= 0; i--) {
            in = stages.get(i).unwrap(in);
        }
        return in;
    }
}
