package dev.lifeboat.restore.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.restore.config.RestoreServiceConfig;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The load session's settings: SET LOCAL lines for the configured values only, and values that are no setting refused. */
class SessionTuningTest {

    static RestoreServiceConfig.Session session(String memory, String workers, String commit) {
        return new RestoreServiceConfig.Session() {
            @Override
            public Optional<String> maintenanceWorkMem() {
                return Optional.ofNullable(memory);
            }

            @Override
            public Optional<String> maxParallelMaintenanceWorkers() {
                return Optional.ofNullable(workers);
            }

            @Override
            public Optional<String> synchronousCommit() {
                return Optional.ofNullable(commit);
            }
        };
    }

    @Test
    void theDefaultsBecomeSetLocalLinesInsideTheLoadsTransaction() {
        assertThat(SessionTuning.preamble(session("256MB", "2", "off"))).isEqualTo("""
                SET LOCAL maintenance_work_mem = '256MB';
                SET LOCAL max_parallel_maintenance_workers = '2';
                SET LOCAL synchronous_commit = 'off';
                """);
    }

    @Test
    void anEmptyOrMissingValueLeavesTheServersSetting() {
        assertThat(SessionTuning.preamble(session(" ", null, "off"))).isEqualTo("SET LOCAL synchronous_commit = 'off';\n");
        assertThat(SessionTuning.preamble(session(null, null, null))).isEmpty();
    }

    @Test
    void aValueThatIsNoSettingIsRefusedNamingTheKey() {
        assertThatThrownBy(() -> SessionTuning.preamble(session("1GB'; DROP TABLE x; --", "2", "off")))
                .isInstanceOf(InvalidConfiguration.class)
                .hasMessageContaining("lifeboat.restore.session.maintenance-work-mem");
    }
}
