package dev.lifeboat.deploy;

import com.marcnuri.helm.DryRun;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import dev.lifeboat.common.testing.TempDirs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The Lifeboat Helm chart (deploy/charts/lifeboat) driven through helm-java, as `helm lint --strict` and
 * `helm template` would: renders with the chart's defaults plus any values given as YAML text (each written to a
 * temporary values file, applied in order). Rendered manifests exist only in memory and temporary files.
 */
final class Chart {
    static final String RELEASE = "lifeboat";
    static final String NAMESPACE = "lifeboat";
    /** `helm template` without a cluster assumes an old Kubernetes; the chart needs 1.25+. */
    static final String KUBE_VERSION = "1.31.0";

    private Chart() {
    }

    /** The chart's folder, found from the module's folder (Surefire's working directory) or the repository root. */
    static Path dir() {
        for (Path candidate : List.of(Path.of("charts/lifeboat"), Path.of("deploy/charts/lifeboat"))) {
            if (Files.isRegularFile(candidate.resolve("Chart.yaml"))) {
                return candidate.toAbsolutePath();
            }
        }
        throw new IllegalStateException("deploy/charts/lifeboat not found from " + Path.of("").toAbsolutePath());
    }

    /** The chart's ci/all-on-values.yaml: every toggle on, every hook used. */
    static String allOn() {
        try {
            return Files.readString(dir().resolve("ci/all-on-values.yaml"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static LintResult lint() {
        return new Helm(dir()).lint().strict().call();
    }

    /** The release notes (NOTES.txt) an install with {@code values} prints, from a client-only dry run. */
    static String notes(String... values) {
        return withValuesFiles(values, files -> {
            InstallCommand install = new Helm(dir()).install().withName(RELEASE).withNamespace(NAMESPACE)
                    .withKubeVersion(KUBE_VERSION).withDryRunOption(DryRun.CLIENT).clientOnly();
            for (Path file : files) {
                install = install.withValuesFile(file);
            }
            String output = install.call().getOutput();
            return output.substring(output.indexOf("NOTES:"));
        });
    }

    /** The rendered manifests (multi-document YAML); throws with Helm's message when rendering fails. */
    static String render(String... values) {
        return renderRelease(RELEASE, values);
    }

    static String renderRelease(String release, String... values) {
        return withValuesFiles(values, files -> {
            TemplateCommand template = new Helm(dir()).template().withName(release).withNamespace(NAMESPACE)
                    .withKubeVersion(KUBE_VERSION);
            for (Path file : files) {
                template = template.withValuesFile(file);
            }
            return template.call();
        });
    }

    /** Runs {@code helm} with {@code values} written to temporary values files (in order), deleted afterwards. */
    private static String withValuesFiles(String[] values, Function<List<Path>, String> helm) {
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("lifeboat-chart-values-");
            List<Path> files = new ArrayList<>();
            for (int i = 0; i < values.length; i++) {
                files.add(Files.writeString(tmp.resolve("values-" + i + ".yaml"), values[i]));
            }
            return helm.apply(files);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            TempDirs.delete(tmp);
        }
    }
}
