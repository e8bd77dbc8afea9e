package dev.lifeboat.restore.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.api.RestoreFailure;
import org.junit.jupiter.api.Test;

/** How psql's error output of a stopped load becomes a failure kind and a message (what PostgreSQL 15 and 16 print). */
class RestoreFaultTest {

    @Test
    void anExtensionTheRoleMayNotCreateIsNamedWithTheRoleAndTheWayOut() {
        RestoreFault f = RestoreFault.ofPsql("""
                psql:<stdin>:25: ERROR:  42501: permission denied to create extension "postgis"
                HINT:  Must be superuser to create this extension.
                LOCATION:  execute_extension_script, extension.c:1040
                """, "app_owner", "generic");
        assertThat(f.kind()).isEqualTo(RestoreFailure.TARGET_ERROR);
        assertThat(f.getMessage()).startsWith("Extension postgis could not be created by role app_owner: permission "
                + "denied to create extension \"postgis\" (Must be superuser to create this extension.).")
                .contains("restore as a superuser").contains("the target is unchanged");
    }

    @Test
    void anExtensionMissingOnTheServerIsNamedWithWhatToInstall() {
        RestoreFault pg15 = RestoreFault.ofPsql("psql:<stdin>:20: ERROR:  58P01: could not open extension control file "
                + "\"/usr/share/postgresql/15/extension/postgis.control\": No such file or directory\n", "postgres", "generic");
        assertThat(pg15.kind()).isEqualTo(RestoreFailure.TARGET_ERROR);
        assertThat(pg15.getMessage()).startsWith("Extension postgis is not installed on the target server (could not "
                + "open extension control file").contains("not its binaries").contains("install");
        RestoreFault pg16 = RestoreFault.ofPsql("psql:<stdin>:20: ERROR:  0A000: extension \"uuid-ossp\" is not available\n"
                + "DETAIL:  Could not open extension control file \"/usr/share/postgresql/16/extension/uuid-ossp.control\": "
                + "No such file or directory.\n", "postgres", "generic");
        assertThat(pg16.kind()).isEqualTo(RestoreFailure.TARGET_ERROR);
        assertThat(pg16.getMessage()).startsWith("Extension uuid-ossp is not installed on the target server (extension "
                + "\"uuid-ossp\" is not available)");
    }

    @Test
    void otherErrorsKeepTheirClassAndMessage() {
        RestoreFault denied = RestoreFault.ofPsql("psql:<stdin>:9: ERROR:  42501: permission denied for schema app\n",
                "app_owner", "A statement of the dump failed");
        assertThat(denied.kind()).isEqualTo(RestoreFailure.DUMP_REJECTED);
        assertThat(denied.getMessage()).isEqualTo("A statement of the dump failed");
        RestoreFault file = RestoreFault.ofPsql("psql:<stdin>:9: ERROR:  58P01: could not access file \"$libdir/x\"\n",
                "postgres", "m");
        assertThat(file.kind()).isEqualTo(RestoreFailure.TARGET_ERROR);
        assertThat(file.getMessage()).isEqualTo("m");
        assertThat(RestoreFault.ofPsql("", "postgres", "m").kind()).isEqualTo(RestoreFailure.TARGET_ERROR);
    }
}
