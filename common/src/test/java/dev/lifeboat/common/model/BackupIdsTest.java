package dev.lifeboat.common.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.error.Errors.InvalidBackupId;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class BackupIdsTest {
    private static final Instant TIME = Instant.parse("2024-11-10T02:00:00Z");

    @ParameterizedTest
    @ValueSource(strings = {"main_backup_20260101_020000.sql.zst.age", "db_backup_20241110_020000.sql.gz",
            "db_backup_20241110_020000_2.dump", "a-b_backup_20241110_020000.sql"})
    void validateAcceptsBackupIds(String id) {
        assertThat(BackupIds.validate(id)).isEqualTo(id);
    }

    @Test
    void validateAcceptsExactlyTwoHundredCharacters() {
        String id = "a".repeat(200);
        assertThat(BackupIds.validate(id)).isEqualTo(id);
    }

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {"..", "a/b", "%2e%2e%2f", "nul\u0000char", ".hidden", "x..y", "../etc/passwd", "a\\b",
            "with space", "new\nline", "ünï"})
    void validateRejects(String id) {
        assertThatThrownBy(() -> BackupIds.validate(id)).isInstanceOf(InvalidBackupId.class);
    }

    @Test
    void validateRejectsTwoHundredAndOneCharacters() {
        assertThatThrownBy(() -> BackupIds.validate("a".repeat(201)))
                .isInstanceOf(InvalidBackupId.class).hasMessageContaining("201");
    }

    @Test
    void rejectionMessageShowsControlCharactersVisibly() {
        assertThatThrownBy(() -> BackupIds.validate("bad\u0000id"))
                .hasMessageContaining("bad\\u0000id")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\u0000"));
    }

    @Test
    void fileNameFollowsTheSeedsNames() {
        assertThat(BackupIds.fileName("db", TIME, 1, ".sql.gz")).isEqualTo("db_backup_20241110_020000.sql.gz");
        assertThat(BackupIds.fileName("db", TIME, 2, ".sql.gz")).isEqualTo("db_backup_20241110_020000_2.sql.gz");
        assertThat(BackupIds.fileName("main", Instant.parse("2026-01-01T02:00:00.999Z"), 3, ".sql.zst.age"))
                .isEqualTo("main_backup_20260101_020000_3.sql.zst.age");
    }

    @Test
    void fileNameUsesUtcWhateverTheDefaultZone() {
        java.util.TimeZone saved = java.util.TimeZone.getDefault();
        try {
            java.util.TimeZone.setDefault(java.util.TimeZone.getTimeZone("Pacific/Auckland"));
            assertThat(BackupIds.fileName("db", TIME, 1, ".sql")).isEqualTo("db_backup_20241110_020000.sql");
        } finally {
            java.util.TimeZone.setDefault(saved);
        }
    }

    @Test
    void fileNamesAreValidIds() {
        assertThat(BackupIds.validate(BackupIds.fileName("my-db_1", TIME, 7, ".dump.zst.age")))
                .isEqualTo("my-db_1_backup_20241110_020000_7.dump.zst.age");
    }

    @Test
    void labelOfReturnsTheDatabaseLabel() {
        assertThat(BackupIds.labelOf("main_backup_20260101_020000.sql.zst.age")).isEqualTo("main");
        assertThat(BackupIds.labelOf("db_backup_20241110_020000_2.sql.gz")).isEqualTo("db");
        assertThat(BackupIds.labelOf("my_app_db_backup_20241110_020000.sql")).isEqualTo("my_app_db");
        assertThat(BackupIds.labelOf(BackupIds.fileName("x_backup_y", TIME, 1, ".sql"))).isEqualTo("x_backup_y");
    }

    @Test
    void labelOfRejectsIdsWithoutBackupMarker() {
        assertThatThrownBy(() -> BackupIds.labelOf("random.sql")).isInstanceOf(InvalidBackupId.class);
        assertThatThrownBy(() -> BackupIds.labelOf("_backup_20241110_020000.sql")).isInstanceOf(InvalidBackupId.class);
    }

    @Test
    void validateLabelAcceptsLabelsAndRejectsDotsAndSlashes() {
        assertThat(BackupIds.validateLabel("main-db_2")).isEqualTo("main-db_2");
        for (String bad : new String[] {"a.b", "a/b", "", "x".repeat(64), "with space"}) {
            assertThatThrownBy(() -> BackupIds.validateLabel(bad)).as(bad).isInstanceOf(InvalidRequest.class);
        }
        assertThatThrownBy(() -> BackupIds.validateLabel(null)).isInstanceOf(InvalidRequest.class);
    }

    @Test
    void metadataWithFingerprintSurvivesAJsonRoundTrip() throws IOException {
        BackupMetadata metadata = new BackupMetadata(BackupMetadata.SCHEMA_VERSION,
                "main_backup_20260101_020000.sql.zst.age", "main", "app", "database/main/main_backup_20260101_020000.sql.zst.age",
                "15.18", "pg_dump (PostgreSQL) 15.18", "UTF8", DumpFormat.PLAIN, Compression.ZSTD,
                List.of("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"), Trigger.SCHEDULED,
                Map.of("team", "payments", "env", "prod"),
                Instant.parse("2026-01-01T02:00:00.123456789Z"), Instant.parse("2026-01-01T02:03:04.5Z"),
                184.377, 123_456_789_012L, 9_876_543L, "ab".repeat(32),
                List.of(new TableFingerprint("public.people", "id, name", 1007, "0123456789abcdef0123456789abcdef"),
                        new TableFingerprint("\"My Schema\".\"Tab.le \"\"x\"\"\"", "id, \"Na me\"", 0, "0".repeat(32))), null, null, null);
        byte[] json = Json.write(metadata);
        BackupMetadata back = Json.read(json, BackupMetadata.class);
        assertThat(back).isEqualTo(metadata);
        assertThat(back.encrypted()).isTrue();

        String text = new String(json, StandardCharsets.UTF_8);
        assertThat(text).contains("\"startedAt\" : \"2026-01-01T02:00:00.123456789Z\"").doesNotContain("\"encrypted\"");
    }

    @Test
    void metadataReaderIgnoresUnknownFieldsAndOmitsNulls() throws IOException {
        BackupMetadata minimal = new BackupMetadata(1, "db_backup_20241110_020000.dump", "db", null, null, null, null, null,
                DumpFormat.CUSTOM, Compression.NONE, List.of(), Trigger.MANUAL, null, TIME, TIME, 0, 0, 0, null, List.of(), null, null, null);
        String text = new String(Json.write(minimal), StandardCharsets.UTF_8);
        assertThat(text).doesNotContain("null");
        String newer = text.replaceFirst("\\{", "{\"someFutureField\": {\"x\": 1},");
        BackupMetadata back = Json.read(newer.getBytes(StandardCharsets.UTF_8), BackupMetadata.class);
        assertThat(back).isEqualTo(minimal);
        assertThat(back.encrypted()).isFalse();
    }
}
