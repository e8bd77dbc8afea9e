package dev.lifeboat.verify;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The operator scripts ({@code deploy/scripts/*.sh}) run as an operator runs them, against the three services as
 * real processes ({@link VerifyStack}'s backup- and restore-service, verify-service started here from its built
 * application): their exit codes, what they print on stdout and stderr, and what they did to the database. A second
 * restore-service holds an in-place target, for the confirmation the restore script asks before replacing a
 * database.
 */
class OperatorScriptsIT {
    private static final VerifyStack stack = new VerifyStack();
    private static Path scripts;
    private static Path dir;
    private static Path operatorToken;
    private static Path restorerToken;
    private static ServiceProcess verify;
    private static ServiceProcess inPlace;

    @BeforeAll
    static void start() throws IOException {
        scripts = locateScripts();
        Map<String, String> verifyConfig = new HashMap<>(stack.start());
        verifyConfig.put("lifeboat.verify.sweep-schedule", "off");
        verify = ServiceProcess.start("verify-service", verifyConfig);

        // restore-service with the shared store and tokens, and an in-place target: the "app" database (label main)
        Map<String, String> inPlaceConfig = new HashMap<>();
        verifyConfig.forEach((key, value) -> {
            if (key.startsWith("lifeboat.store.") || key.startsWith("lifeboat.auth.")
                    || key.equals("lifeboat.encryption.identity-files")) {
                inPlaceConfig.put(key, value);
            }
        });
        PostgresServer pg = VerifyStack.postgres();
        inPlaceConfig.putAll(Map.of(
                "lifeboat.targets.primary.host", pg.host(),
                "lifeboat.targets.primary.port", Integer.toString(pg.port()),
                "lifeboat.targets.primary.database", "app",
                "lifeboat.targets.primary.password", PostgresServer.PASSWORD,
                "lifeboat.targets.primary.database-label", "main",
                "lifeboat.peers.backup-url", VerifyStack.backupService().apiUrl(),
                "lifeboat.peers.token", TokenResource.RESTORER));
        inPlace = ServiceProcess.start("restore-service", inPlaceConfig);

        dir = Files.createTempDirectory("lifeboat-scripts-");
        operatorToken = secret("operator-token", TokenResource.OPERATOR);
        restorerToken = secret("restorer-token", TokenResource.RESTORER);
    }

    @AfterAll
    static void stop() {
        for (ServiceProcess p : new ServiceProcess[] {verify, inPlace}) {
            if (p != null) {
                p.close();
            }
        }
        stack.stop();
        TempDirs.delete(dir);
    }

    @Test
    void backupListVerifyRestoreToScratchAndStatusThroughTheScripts() {
        Run backup = run(operatorToken, "backup-database.sh", "--database", "main", "--label", "reason=script-test");
        backup.expectExit(0);
        assertThat(backup.out).containsPattern("Backup main_backup_\\d{8}_\\d{6}\\S* COMPLETED").contains("age-encrypted");
        assertThat(backup.err).contains("COMPLETED main:"); // the progress lines
        String id = backup.out.replaceAll("(?s)^Backup (\\S+) COMPLETED.*", "$1");

        Run list = run(operatorToken, "list-backups.sh", "--database", "main");
        list.expectExit(0);
        assertThat(list.out).startsWith("ID")
                .containsPattern(Pattern.quote(id) + " +main +COMPLETED +MANUAL .*no \\(not verified yet\\)");
        Run listed = run(operatorToken, "list-backups.sh", "--database", "main", "--json");
        listed.expectExit(0);
        assertThat(listed.out).contains("\"reason\": \"script-test\"");

        Run verified = run(operatorToken, "verify-backup.sh", id, "--level", "full");
        verified.expectExit(0);
        assertThat(verified.out).contains("PASSED: FULL of backup " + id).containsPattern("FINGERPRINT +DONE")
                .containsPattern("DROP_SCRATCH +DONE");
        assertThat(verified.err).contains("FINISHED FULL " + id + " -> PASSED");
        assertThat(run(operatorToken, "list-backups.sh", "--verified").out).contains(id).contains("yes (FULL PASSED)");

        Run scratch = run(operatorToken, "restore-database.sh", "latest-verified", "--target", "scratch", "--database", "main");
        scratch.expectExit(0);
        assertThat(scratch.out).contains("COMPLETED: backup " + id + " into database lifeboat_scratch_")
                .containsPattern("LOAD +DONE");
        String database = scratch.out.replaceAll("(?s).* into database (lifeboat_scratch_\\S+) .*", "$1");
        assertThat(VerifyStack.postgres().psql(database, "SELECT count(*) FROM public.people"))
                .isEqualTo(VerifyStack.postgres().psql("app", "SELECT count(*) FROM public.people"));

        // main is proven; "empty" is configured with an objective but never backed up
        Run mainStatus = run(operatorToken, "dr-status.sh", "--database", "main");
        mainStatus.expectExit(0);
        assertThat(mainStatus.out).startsWith("DR status: OK").containsPattern("main +OK").contains(id);
        Run all = run(operatorToken, "dr-status.sh");
        all.expectExit(4);
        assertThat(all.out).startsWith("DR status: BREACHED").containsPattern("empty +BREACHED")
                .contains("BREACHED: empty: no completed backup");
        run(operatorToken, "dr-status.sh", "--no-fail").expectExit(0);
    }

    @Test
    void anInPlaceRestoreAsksFirstAndWithYesBringsTheDataBack() {
        String id = run(operatorToken, "backup-database.sh", "--database", "main", "--json").expectExit(0)
                .out.replaceAll("(?s).*?\"id\": \"([^\"]+)\".*", "$1");
        String rows = VerifyStack.postgres().psql("app", "SELECT count(*) FROM public.people");
        VerifyStack.postgres().psql("app", "DELETE FROM public.people WHERE id % 2 = 0");
        String fewer = VerifyStack.postgres().psql("app", "SELECT count(*) FROM public.people");
        assertThat(fewer).isNotEqualTo(rows);

        // no terminal to ask on, no --yes: refused before anything is sent
        Run refused = runAgainst(inPlace, restorerToken, "restore-database.sh", id, "--target", "primary");
        refused.expectExit(1);
        assertThat(refused.err).contains("refusing to replace database app of target 'primary' in place").contains("--yes");
        assertThat(VerifyStack.postgres().psql("app", "SELECT count(*) FROM public.people")).isEqualTo(fewer);

        Run restored = runAgainst(inPlace, restorerToken, "restore-database.sh", id, "--target", "primary", "--yes",
                "--no-safety-backup", "--roles", "require");
        restored.expectExit(0);
        assertThat(restored.out).contains("COMPLETED: backup " + id + " into database app (target primary)")
                .containsPattern("SAFETY_BACKUP +SKIPPED");
        assertThat(VerifyStack.postgres().psql("app", "SELECT count(*) FROM public.people")).isEqualTo(rows);
    }

    @Test
    void anUnknownBackupFailsWithTheServersReason() {
        String unknown = "main_backup_19990101_000000.sql.zst.age";
        Run restore = run(operatorToken, "restore-database.sh", unknown, "--target", "scratch");
        restore.expectExit(1);
        assertThat(restore.err).contains("HTTP 404").contains("No completed backup with id '" + unknown + "'");
        assertThat(restore.out).isEmpty();

        Run verification = run(operatorToken, "verify-backup.sh", unknown);
        verification.expectExit(1);
        assertThat(verification.err).contains("HTTP 404").contains(unknown);

        Run target = run(operatorToken, "restore-database.sh", "latest", "--target", "nope");
        target.expectExit(1);
        assertThat(target.err).contains("no target named 'nope'; configured: ").containsPattern("configured: .*\\bscratch\\b");
    }

    @Test
    void aWrongOrMissingTokenIsRefusedClearly() {
        Run wrong = run(null, Map.of("LIFEBOAT_TOKEN", "not-a-valid-token-0123456789abcdef0123456"), "list-backups.sh");
        wrong.expectExit(1);
        assertThat(wrong.err).contains("HTTP 401 unauthorized").contains("token was not accepted");

        Run none = run(null, Map.of(), "dr-status.sh");
        none.expectExit(1);
        assertThat(none.err).contains("no API token").contains("LIFEBOAT_TOKEN_FILE");

        // a viewer may read but not start a backup
        Path viewer = secret("viewer-token", TokenResource.VIEWER);
        run(viewer, "list-backups.sh").expectExit(0);
        Run forbidden = run(viewer, "backup-database.sh", "--database", "main");
        forbidden.expectExit(1);
        assertThat(forbidden.err).contains("HTTP 403 forbidden");
    }

    @Test
    void everyScriptHasHelpAndRejectsUnknownOptions() {
        for (String script : List.of("backup-database.sh", "restore-database.sh", "verify-backup.sh", "list-backups.sh",
                "dr-status.sh")) {
            Run help = run(null, Map.of(), script, "--help");
            help.expectExit(0);
            assertThat(help.out).as(script).contains("Usage: " + script).contains("--token-file FILE")
                    .contains("LIFEBOAT_BACKUP_URL");
            Run bad = run(operatorToken, script, "--no-such-option");
            bad.expectExit(2);
            assertThat(bad.err).as(script).contains("unknown option '--no-such-option'");
        }
        run(operatorToken, "restore-database.sh").expectExit(2);
        Run roles = run(operatorToken, "restore-database.sh", "latest", "--roles", "create-all");
        roles.expectExit(2);
        assertThat(roles.err).contains("--roles takes create-missing or require");
    }

    // ---- running the scripts ----

    /** What a script did: exit code, stdout, stderr. */
    record Run(String command, int exit, String out, String err) {
        Run expectExit(int expected) {
            assertThat(exit).as("exit code of %s%nstdout:%n%s%nstderr:%n%s", command, out, err).isEqualTo(expected);
            return this;
        }
    }

    private static Run run(Path tokenFile, String script, String... args) {
        return run(tokenFile, Map.of(), script, args);
    }

    /** Runs a script against VerifyStack's services, with another restore-service as the restore URL. */
    private static Run runAgainst(ServiceProcess restore, Path tokenFile, String script, String... args) {
        return run(tokenFile, Map.of("LIFEBOAT_RESTORE_URL", restore.apiUrl()), script, args);
    }

    /**
     * Runs {@code bash deploy/scripts/<script> args...} (an argument array, no shell line) with the services' URLs and
     * the token file in the environment, stdin closed, as cron or CI would; {@code env} adds or overrides variables.
     */
    private static Run run(Path tokenFile, Map<String, String> env, String script, String... args) {
        List<String> command = new ArrayList<>(List.of("bash", scripts.resolve(script).toString()));
        command.addAll(List.of(args));
        try {
            Path out = Files.createTempFile(dir, "out-", ".txt");
            Path err = Files.createTempFile(dir, "err-", ".txt");
            ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
            Map<String, String> environment = builder.environment();
            environment.keySet().removeIf(k -> k.startsWith("LIFEBOAT_"));
            environment.put("LIFEBOAT_BACKUP_URL", VerifyStack.backupService().apiUrl());
            environment.put("LIFEBOAT_RESTORE_URL", VerifyStack.restoreService().apiUrl());
            environment.put("LIFEBOAT_VERIFY_URL", verify.apiUrl());
            environment.put("LIFEBOAT_POLL_SECONDS", "1");
            if (tokenFile != null) {
                environment.put("LIFEBOAT_TOKEN_FILE", tokenFile.toString());
            }
            environment.putAll(env);
            Process process = builder.start();
            process.getOutputStream().close();
            if (!process.waitFor(3, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new AssertionError(command + " did not finish within 3 minutes:\n" + Files.readString(err));
            }
            return new Run(String.join(" ", command), process.exitValue(), Files.readString(out), Files.readString(err));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Path secret(String name, String value) {
        try {
            Path file = dir.resolve(name);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, value + "\n");
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** deploy/scripts of this checkout, searched from the working directory (the module) upwards. */
    private static Path locateScripts() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path candidate = d.resolve("deploy/scripts");
            if (Files.isRegularFile(candidate.resolve("common.sh"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("deploy/scripts not found above " + Path.of("").toAbsolutePath());
    }
}
