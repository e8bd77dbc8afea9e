package dev.lifeboat.common.model;

/** pg_dump output format: plain SQL (loaded with psql) or custom (loaded with pg_restore). */
public enum DumpFormat {
    PLAIN(".sql", "p"), CUSTOM(".dump", "c");

    private final String suffix;
    private final String pgDumpFlag;

    DumpFormat(String suffix, String pgDumpFlag) {
        this.suffix = suffix;
        this.pgDumpFlag = pgDumpFlag;
    }

    public String suffix() {
        return suffix;
    }

    /** The value of pg_dump's {@code --format}. */
    public String pgDumpFlag() {
        return pgDumpFlag;
    }
}
