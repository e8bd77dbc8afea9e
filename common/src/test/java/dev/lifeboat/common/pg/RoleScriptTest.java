package dev.lifeboat.common.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The roles filter and the create-missing SQL, on pg_dumpall 15 output with the awkward cases quoted in it. */
class RoleScriptTest {
    /** pg_dumpall --roles-only as PostgreSQL 15.14 writes it (passwords included), trimmed of nothing. */
    static final String DUMPALL = """
            --
            -- PostgreSQL database cluster dump
            --

            \\restrict ufqJWX8eaYeznjMpZn3OrxSLEgg5K1M5i6qta6muOTLGEDbRHw1HCorKJhPFPl6

            SET default_transaction_read_only = off;

            SET client_encoding = 'UTF8';
            SET standard_conforming_strings = on;

            --
            -- Roles
            --

            CREATE ROLE app_owner;
            ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
            COMMENT ON ROLE app_owner IS 'owns; -- not a comment
            things';
            CREATE ROLE app_reader;
            ALTER ROLE app_reader WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
            CREATE ROLE app_writer;
            ALTER ROLE app_writer WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5 PASSWORD 'SCRAM-SHA-256$4096:vEPV==$nO92:SAFJ=';
            CREATE ROLE other;
            ALTER ROLE other WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
            CREATE ROLE postgres;
            ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:x==$y:z=';
            CREATE ROLE "we""ird
            LOGIN; name";
            ALTER ROLE "we""ird
            LOGIN; name" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;

            --
            -- User Configurations
            --

            --
            -- User Config "app_writer"
            --

            ALTER ROLE app_writer SET search_path TO 'app', 'public';


            --
            -- Role memberships
            --

            GRANT app_owner TO app_writer WITH ADMIN OPTION GRANTED BY postgres;
            GRANT app_reader TO app_writer GRANTED BY postgres;
            GRANT app_reader TO other GRANTED BY postgres;
            GRANT other TO app_reader GRANTED BY postgres;
            GRANT pg_read_all_data TO app_reader GRANTED BY postgres;
            GRANT "we""ird
            LOGIN; name" TO app_reader GRANTED BY postgres;


            --
            -- Role privileges on configuration parameters
            --

            GRANT SET ON PARAMETER work_mem TO app_writer;
            GRANT SET ON PARAMETER work_mem TO other;


            \\unrestrict ufqJWX8eaYeznjMpZn3OrxSLEgg5K1M5i6qta6muOTLGEDbRHw1HCorKJhPFPl6

            --
            -- PostgreSQL database cluster dump complete
            --

            """;
    static final String WEIRD = "we\"ird\nLOGIN; name";

    @Test
    void filterKeepsOnlyTheStatementsAboutTheReferencedRoles() throws IOException {
        StringWriter out = new StringWriter();
        List<String> names = RoleScript.filter(new StringReader(DUMPALL), List.of("app_owner", "app_reader",
                "app_writer", WEIRD), out);

        assertThat(names).containsExactly("app_owner", "app_reader", "app_writer", WEIRD);
        String kept = out.toString();
        assertThat(kept).contains("CREATE ROLE app_owner;", "COMMENT ON ROLE app_owner IS 'owns; -- not a comment\nthings';",
                "ALTER ROLE app_writer SET search_path TO 'app', 'public';",
                "GRANT app_owner TO app_writer WITH ADMIN OPTION GRANTED BY postgres;",
                "GRANT pg_read_all_data TO app_reader GRANTED BY postgres;",
                "GRANT SET ON PARAMETER work_mem TO app_writer;", "CREATE ROLE \"we\"\"ird\nLOGIN; name\";",
                "SET client_encoding = 'UTF8';")
                // not referenced: other, and the bootstrap superuser (never its CREATE); meta-commands are not SQL
                .doesNotContain("other", "ROLE postgres", "restrict", "cluster dump");
        // what was kept parses back to the same statements
        List<RoleScript.Statement> again = RoleScript.parse(new StringReader(kept));
        assertThat(again).filteredOn(s -> s.kind() == RoleScript.Kind.CREATE).extracting(RoleScript.Statement::role)
                .containsExactlyElementsOf(names);
        assertThat(again).extracting(RoleScript.Statement::kind).doesNotContain(RoleScript.Kind.OTHER);
    }

    @Test
    void createMissingCreatesOnlyTheMissingRolesNologinWithoutPasswords() throws IOException {
        List<RoleScript.Statement> statements = RoleScript.parse(new StringReader(DUMPALL));
        String sql = RoleScript.createMissing(statements, List.of("app_writer", WEIRD), false);

        assertThat(sql).startsWith("SET client_encoding = 'UTF8';\n")
                .contains("CREATE ROLE app_writer;\n", "CREATE ROLE \"we\"\"ird\nLOGIN; name\";\n",
                        "ALTER ROLE app_writer SET search_path TO 'app', 'public';",
                        // the membership of a created role, without the backup's grantor
                        "GRANT app_owner TO app_writer WITH ADMIN OPTION;\n", "GRANT app_reader TO app_writer;\n",
                        "GRANT SET ON PARAMETER work_mem TO app_writer;")
                // LOGIN inside the quoted name stays; the attribute becomes NOLOGIN
                .contains("ALTER ROLE \"we\"\"ird\nLOGIN; name\" WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN;")
                // the attributes only a superuser may name, even as "no", are CREATE ROLE's defaults: left out
                .contains("ALTER ROLE app_writer WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN CONNECTION LIMIT 5 PASSWORD")
                // existing roles are neither created, altered, nor given memberships
                .doesNotContain("CREATE ROLE app_owner", "ALTER ROLE app_reader", "TO app_reader", "COMMENT",
                        "GRANTED BY");
        assertThat(sql.indexOf("CREATE ROLE app_writer")).isLessThan(sql.indexOf("GRANT app_owner TO app_writer"));
    }

    @Test
    void createMissingKeepsLoginWhenTheBackupCarriesPasswords() throws IOException {
        String sql = RoleScript.createMissing(RoleScript.parse(new StringReader(DUMPALL)), List.of("app_writer"), true);
        assertThat(sql).contains(" NOCREATEDB LOGIN CONNECTION LIMIT 5 PASSWORD 'SCRAM-SHA-256$4096:vEPV==$nO92:SAFJ=';");
        assertThat(RoleScript.createMissing(RoleScript.parse(new StringReader(DUMPALL)), List.of(), true)).isEmpty();
    }

    @Test
    void anOutputEndingInsideAStatementIsRefused() {
        assertThatThrownBy(() -> RoleScript.parse(new StringReader("CREATE ROLE a;\nCOMMENT ON ROLE a IS 'open")))
                .isInstanceOf(IOException.class).hasMessageContaining("ends inside a statement");
    }
}
