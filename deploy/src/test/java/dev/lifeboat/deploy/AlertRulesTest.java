package dev.lifeboat.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.testing.TempDirs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chart's alert rules and dashboard queries through promtool: the rules load, each alert fires on a series
 * that should fire it and stays silent on one that should not (src/test/resources/alerts/lifeboat-alerts-test.yaml,
 * with the annotations as Alertmanager would receive them), and every dashboard query parses.
 */
class AlertRulesTest {
    private static Monitoring monitoring;
    private static Path dir;

    @BeforeAll
    static void render() throws IOException {
        monitoring = Monitoring.rendered();
        dir = Files.createTempDirectory("lifeboat-alerts-");
        Files.writeString(dir.resolve("lifeboat-rules.yaml"), monitoring.rulesFile());
        try (InputStream tests = AlertRulesTest.class.getResourceAsStream("/alerts/lifeboat-alerts-test.yaml")) {
            Files.copy(tests, dir.resolve("lifeboat-alerts-test.yaml"));
        }
    }

    @AfterAll
    static void cleanUp() {
        TempDirs.delete(dir);
    }

    @Test
    void theRulesLoad() {
        Monitoring.Result check = Monitoring.promtool(dir, null, "check", "rules", "lifeboat-rules.yaml");
        assertThat(check.exitCode()).as(check.output()).isZero();
        assertThat(check.output()).contains("SUCCESS: 9 rules found");
    }

    @Test
    void eachAlertFiresOnItsSeriesAndStaysSilentOnTheOthers() throws IOException {
        String tests = Files.readString(dir.resolve("lifeboat-alerts-test.yaml"));
        for (String alert : ChartRenderTest.ALERTS) {
            assertThat(tests).as("a firing and a silent case for %s", alert).contains("alertname: " + alert);
        }
        Monitoring.Result test = Monitoring.promtool(dir, null, "test", "rules", "lifeboat-alerts-test.yaml");
        assertThat(test.exitCode()).as(test.output()).isZero();
        assertThat(test.output()).contains("SUCCESS");
    }

    @Test
    void aBrokenThresholdIsCaughtByTheUnitTests() throws IOException {
        // the unit tests are only worth something if they fail when a rule changes
        Path broken = Files.createDirectory(dir.resolve("broken"));
        Files.writeString(broken.resolve("lifeboat-rules.yaml"), monitoring.rulesFile().replace("> 90000", "> 100000"));
        Files.copy(dir.resolve("lifeboat-alerts-test.yaml"), broken.resolve("lifeboat-alerts-test.yaml"));
        Monitoring.Result test = Monitoring.promtool(broken, null, "test", "rules", "lifeboat-alerts-test.yaml");
        assertThat(test.exitCode()).isNotZero();
        assertThat(test.output()).contains("alertname: LifeboatBackupMissing");
    }

    @Test
    void everyDashboardQueryParses() throws IOException {
        assertThat(monitoring.dashboardQueries()).hasSizeGreaterThan(15);
        Files.writeString(dir.resolve("dashboard-queries.yaml"), monitoring.dashboardQueriesAsRules());
        Monitoring.Result check = Monitoring.promtool(dir, null, "check", "rules", "dashboard-queries.yaml");
        assertThat(check.exitCode()).as(check.output()).isZero();
        assertThat(check.output()).contains("SUCCESS: " + monitoring.dashboardQueries().size() + " rules found");
    }
}
