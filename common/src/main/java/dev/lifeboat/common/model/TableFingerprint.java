package dev.lifeboat.common.model;

/**
 * The content fingerprint of one table's data (DESIGN §4): the number of rows and an order-independent hash of
 * the COPY text lines, as hex. {@code table} is the qualified name as pg_dump writes it in the COPY statement
 * (identifiers quoted where PostgreSQL needs it, e.g. {@code "My Schema"."Tab le"}); {@code columns} is the
 * column list of that statement, so a verifier can read the same columns back with {@code COPY ... TO STDOUT}.
 */
@io.quarkus.runtime.annotations.RegisterForReflection
public record TableFingerprint(String table, String columns, long rows, String hash) {
}
