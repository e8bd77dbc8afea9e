package dev.lifeboat.restore.service;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.util.Optional;

/**
 * The record of a recreate-database swap in progress, kept as the COMMENT of the loaded database
 * ({@code lifeboat_new_*}) from the moment the target stops accepting connections until the renames commit.
 *
 * <p>Why there: it is set in the same transaction as the target's {@code ALLOW_CONNECTIONS false} and replaced (by
 * the target's own comment) in the same transaction as the renames, so the marker exists exactly while the target
 * is closed by a swap; no state in the store could be kept that exactly in step with the database. It is on a
 * database Lifeboat created, so no comment, setting or privilege of the user's database is borrowed for it, and it
 * needs no right beyond owning that database. A target closed by its operator has no such marker and is never
 * reopened by start-up recovery.
 *
 * @param restore          the restore that started the swap
 * @param database         the target database that was closed
 * @param allowConnections what the target's {@code datallowconn} was before (recovery puts it back)
 */
@RegisterForReflection
@JsonIgnoreProperties(ignoreUnknown = true)
record SwapMarker(String restore, String database, boolean allowConnections) {
    static final String PREFIX = "lifeboat:swap ";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** The comment text. */
    String comment() {
        try {
            return PREFIX + MAPPER.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The marker a comment holds, if it is one. */
    static Optional<SwapMarker> parse(String comment) {
        if (comment == null || !comment.startsWith(PREFIX)) {
            return Optional.empty();
        }
        try {
            SwapMarker m = MAPPER.readValue(comment.substring(PREFIX.length()), SwapMarker.class);
            return m.database() == null ? Optional.empty() : Optional.of(m);
        } catch (JsonProcessingException e) {
            return Optional.empty();
        }
    }
}
