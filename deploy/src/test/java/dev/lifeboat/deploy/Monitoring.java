package dev.lifeboat.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.Rule;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The monitoring the chart ships, as rendered with ci/all-on-values.yaml: the PrometheusRule's rules (written as a
 * plain Prometheus rules file for promtool), the Grafana dashboard's queries (Grafana variables replaced so that
 * promtool can parse them), the metric names both use, and a way to run promtool (Debian's `prometheus` package).
 */
final class Monitoring {
    private static final Pattern METRIC = Pattern.compile("\\blifeboat_[a-z0-9_]+\\b");

    private final PrometheusRule rule;
    private final JsonNode dashboard;

    private Monitoring(PrometheusRule rule, JsonNode dashboard) {
        this.rule = rule;
        this.dashboard = dashboard;
    }

    static Monitoring rendered() {
        Manifests m = Manifests.parse(Chart.render(Chart.allOn()));
        try {
            JsonNode dashboard = new ObjectMapper().readTree(
                    m.one(ConfigMap.class, "lifeboat-dashboard").getData().get("lifeboat.json"));
            return new Monitoring(m.one(PrometheusRule.class, "lifeboat"), dashboard);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    List<Rule> rules() {
        return rule.getSpec().getGroups().stream().flatMap(g -> g.getRules().stream()).toList();
    }

    /** The PrometheusRule's spec (its "groups") as a Prometheus rules file. */
    String rulesFile() {
        return new KubernetesSerialization().asYaml(rule.getSpec());
    }

    /** Every panel query, and the metric selector inside each label_values() variable query. */
    List<String> dashboardQueries() {
        List<String> out = new ArrayList<>();
        for (JsonNode panel : dashboard.get("panels")) {
            for (JsonNode target : panel.path("targets")) {
                out.add(target.get("expr").asText());
            }
        }
        for (JsonNode variable : dashboard.get("templating").get("list")) {
            String query = variable.path("definition").asText();
            Matcher m = Pattern.compile("^label_values\\((.+),\\s*[a-z_]+\\)$").matcher(query);
            if (m.matches()) {
                out.add(m.group(1));
            }
        }
        return out;
    }

    /** A query with the dashboard's Grafana variables replaced by values, as Grafana sends it. */
    static String withVariables(String query) {
        return query.replace("$namespace", "lifeboat").replace("$database", ".*")
                .replace("$__rate_interval", "5m").replace("$__range", "1d");
    }

    /** The dashboard's queries as recording rules, which `promtool check rules` parses. */
    String dashboardQueriesAsRules() {
        StringBuilder out = new StringBuilder("groups:\n  - name: lifeboat-dashboard-queries\n    rules:\n");
        int i = 0;
        for (String query : dashboardQueries()) {
            out.append("      - record: lifeboat_dashboard_query_").append(i++).append('\n')
                    .append("        expr: '").append(withVariables(query).replace("'", "''")).append("'\n");
        }
        return out.toString();
    }

    /** The lifeboat_* series the rules and the dashboard read. */
    Set<String> metricNames() {
        Set<String> names = new TreeSet<>();
        List<String> exprs = new ArrayList<>(dashboardQueries());
        rules().forEach(r -> exprs.add(r.getExpr().getStrVal()));
        for (String expr : exprs) {
            Matcher m = METRIC.matcher(expr);
            while (m.find()) {
                names.add(m.group());
            }
        }
        return names;
    }

    /**
     * The exposition with counter families named the classic way for promtool 2.42's linter. The Prometheus Java
     * client (1.x) writes a counter as {@code # TYPE x counter} with samples {@code x_total}, the OpenMetrics
     * naming that Prometheus servers read; promtool's older text parser files those samples under a family
     * {@code x_total} of its own, without TYPE and HELP, and would report every counter as undocumented. Only the
     * TYPE and HELP lines of such families are renamed to {@code x_total}; no sample changes.
     */
    static String classicCounterFamilies(String exposition) {
        Matcher counters = Pattern.compile("(?m)^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) counter$").matcher(exposition);
        String out = exposition;
        while (counters.find()) {
            String family = counters.group(1);
            boolean samplesUnderTotal = Pattern.compile("(?m)^" + Pattern.quote(family) + "_total[{ ]").matcher(exposition).find();
            boolean samplesUnderFamily = Pattern.compile("(?m)^" + Pattern.quote(family) + "[{ ]").matcher(exposition).find();
            if (!family.endsWith("_total") && samplesUnderTotal && !samplesUnderFamily) {
                out = out.replace("# TYPE " + family + " counter\n", "# TYPE " + family + "_total counter\n")
                        .replace("# HELP " + family + " ", "# HELP " + family + "_total ");
            }
        }
        return out;
    }

    /** Result of one promtool run. */
    record Result(int exitCode, String output) {
    }

    /** Runs promtool with {@code args} in {@code dir}, {@code stdin} fed to it; fails when promtool is missing. */
    static Result promtool(Path dir, String stdin, String... args) {
        List<String> command = new ArrayList<>();
        command.add(findPromtool());
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
            try (OutputStream in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            ByteArrayOutputStream output = new ByteArrayOutputStream();
            try (InputStream out = p.getInputStream()) {
                out.transferTo(output);
            }
            if (!p.waitFor(2, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("promtool " + args[0] + " did not finish in 2 minutes");
            }
            return new Result(p.exitValue(), output.toString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String findPromtool() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir, "promtool");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new IllegalStateException("promtool is not installed: apt-get install --no-install-recommends prometheus "
                + "(.ci/run does it); the daemon need not run");
    }
}
