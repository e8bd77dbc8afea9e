package dev.lifeboat.restore.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The SQL recreate-database writes to give the new database what the replaced one carried: quoting of setting
 * values as pg_dump writes them (list settings split, never one literal), the ACL rebuilt from the default, and the
 * swap marker read back. The round trip against a real server is in RestoreTest.
 */
class DatabaseSettingsTest {

    @Test
    void listSettingsAreSplitAsTheServerStoresThemAndOthersAreOneLiteral() {
        assertThat(DatabaseSettings.splitGucList("a, public")).containsExactly("a", "public");
        assertThat(DatabaseSettings.splitGucList("\"$user\", \"My \"\"S\"\"\",public")).containsExactly("$user", "My \"S\"", "public");
        assertThat(DatabaseSettings.splitGucList("  ")).isEmpty();
        assertThatThrownBy(() -> DatabaseSettings.splitGucList("\"open")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DatabaseSettings.splitGucList("a,,b")).isInstanceOf(IllegalArgumentException.class);

        assertThat(DatabaseSettings.value("search_path", "a, \"My S\", public")).isEqualTo("'a', 'My S', 'public'");
        assertThat(DatabaseSettings.value("Search_Path", "\"\"\"quoted\"\"\"")).isEqualTo("'\"quoted\"'");
        assertThat(DatabaseSettings.value("search_path", "")).isEqualTo("''");
        assertThat(DatabaseSettings.value("work_mem", "5MB")).isEqualTo("'5MB'");
        assertThat(DatabaseSettings.value("app.note", "it's, one")).isEqualTo("'it''s, one'");
    }

    @Test
    void theCopyRebuildsSettingsAclAndLimitAndTheSwapRestoresCommentTemplateAndConnections() {
        DatabaseSettings s = new DatabaseSettings("app", "owner", "UTF8", "C", "C", "i", "und", 7, false, true,
                "it's", List.of(new DatabaseSettings.Grant(null, "TEMPORARY", false),
                        new DatabaseSettings.Grant("app\"user", "CONNECT", true)),
                List.of(new DatabaseSettings.RoleSetting(null, List.of("search_path=a, public", "work_mem=5MB")),
                        new DatabaseSettings.RoleSetting("reporting", List.of("statement_timeout=7s"))),
                List.of());
        assertThat(s.createOptions()).isEqualTo(" OWNER \"owner\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                + " LOCALE_PROVIDER icu ICU_LOCALE 'und'");
        assertThat(s.copyStatements("lifeboat_new_x")).containsExactly(
                "ALTER DATABASE \"lifeboat_new_x\" SET \"search_path\" TO 'a', 'public'",
                "ALTER DATABASE \"lifeboat_new_x\" SET \"work_mem\" TO '5MB'",
                "ALTER ROLE \"reporting\" IN DATABASE \"lifeboat_new_x\" SET \"statement_timeout\" TO '7s'",
                "REVOKE ALL ON DATABASE \"lifeboat_new_x\" FROM PUBLIC",
                "REVOKE ALL ON DATABASE \"lifeboat_new_x\" FROM \"owner\"",
                "GRANT TEMPORARY ON DATABASE \"lifeboat_new_x\" TO PUBLIC",
                "GRANT CONNECT ON DATABASE \"lifeboat_new_x\" TO \"app\"\"user\" WITH GRANT OPTION",
                "ALTER DATABASE \"lifeboat_new_x\" CONNECTION LIMIT 7");
        assertThat(s.swapStatements("app", "lifeboat_old_x")).containsExactly(
                "COMMENT ON DATABASE \"app\" IS 'it''s'",
                "ALTER DATABASE \"lifeboat_old_x\" IS_TEMPLATE false",
                "ALTER DATABASE \"app\" IS_TEMPLATE true",
                "ALTER DATABASE \"app\" ALLOW_CONNECTIONS false");

        // the default ACL (datacl NULL), no limit, no comment: nothing to copy, the marker comment removed
        DatabaseSettings plain = new DatabaseSettings("app", "o", "UTF8", "C", "C", "c", null, -1, true, false, null,
                null, List.of(), List.of());
        assertThat(plain.copyStatements("n")).isEmpty();
        assertThat(plain.swapStatements("app", "old")).containsExactly("COMMENT ON DATABASE \"app\" IS NULL");
    }

    @Test
    void theSwapMarkerRoundTripsAndOtherCommentsAreNotMarkers() {
        SwapMarker m = new SwapMarker("restore_20260101_000000_abcdef", "my \"app\"", true);
        assertThat(m.comment()).startsWith("lifeboat:swap {");
        assertThat(SwapMarker.parse(m.comment())).contains(m);
        assertThat(SwapMarker.parse("lifeboat:swap {broken")).isEmpty();
        assertThat(SwapMarker.parse("the shop database")).isEmpty();
        assertThat(SwapMarker.parse(null)).isEqualTo(Optional.empty());
    }
}
