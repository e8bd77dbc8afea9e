package dev.lifeboat.common.model;

/** Compression applied to the dump before encryption. */
public enum Compression {
    ZSTD(".zst"), GZIP(".gz"), NONE("");

    private final String suffix;

    Compression(String suffix) {
        this.suffix = suffix;
    }

    public String suffix() {
        return suffix;
    }
}
