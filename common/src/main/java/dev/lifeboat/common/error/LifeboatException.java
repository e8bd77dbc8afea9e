package dev.lifeboat.common.error;

/**
 * Base of every domain error. Each subclass carries the HTTP status and problem type it maps to, so
 * {@link ProblemMapper} holds the single status table and the layers below never touch HTTP.
 */
public abstract class LifeboatException extends RuntimeException {
    private final int status;
    private final String type;
    private final String title;

    protected LifeboatException(int status, String type, String title, String detail) {
        this(status, type, title, detail, null);
    }

    protected LifeboatException(int status, String type, String title, String detail, Throwable cause) {
        super(detail, cause);
        this.status = status;
        this.type = type;
        this.title = title;
    }

    public int status() {
        return status;
    }

    /** A stable, relative problem type URI such as {@code /problems/backup-not-found}. */
    public String type() {
        return "/problems/" + type;
    }

    public String title() {
        return title;
    }
}
