package dev.lifeboat.restore.rest;

import dev.lifeboat.common.api.RestoreFailure;
import dev.lifeboat.common.api.RestoreStep;
import dev.lifeboat.common.api.RestoreView;
import dev.lifeboat.common.job.JobRecord;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.error.Errors.JobFailed;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.error.Errors.RestoreNotFound;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.security.Roles;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import dev.lifeboat.restore.service.RestoreJob;
import dev.lifeboat.common.api.RestoreMode;
import dev.lifeboat.common.api.RolesOption;
import dev.lifeboat.restore.service.PointInTime;
import dev.lifeboat.restore.service.RestoreRequestSpec;
import dev.lifeboat.restore.service.RestoreService;
import dev.lifeboat.restore.service.Targets;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.identity.SecurityIdentity;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The restore API (DESIGN §6). Thin: the steps are in {@link RestoreService}. {@code restorer} tokens may
 * restore into any target; {@code operator} tokens (verify-service's) only into scratch targets.
 */
@Path("/api/v1/restores")
@Produces(MediaType.APPLICATION_JSON)
public class RestoreResource {
    /** The longest a waiting GET waits: well within a client's usual read timeout (peers: 30 s). */
    static final int MAX_WAIT_SECONDS = 20;
    private final RestoreService service;
    private final Targets targets;
    private final SecurityIdentity identity;

    public RestoreResource(RestoreService service, Targets targets, SecurityIdentity identity) {
        this.service = service;
        this.targets = targets;
        this.identity = identity;
    }

    @POST
    @RolesAllowed({Roles.RESTORER, Roles.OPERATOR})
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Start a restore", description = "202 + Location at once; with wait=true, 201 when done. "
            + "409 when a restore into the target is already running.")
    public Response create(RestoreRequest request, @QueryParam("wait") boolean wait, @Context UriInfo uri) {
        if (request == null) {
            throw new InvalidRequest("A JSON body is required: {\"backupId\": \"<id>|latest|latest-verified\", \"target\": \"<name>\"}"
                    + " or {\"database\": \"<label>\", \"pointInTime\": \"<ISO-8601 with offset>|latest\", \"target\": \"<name>\"}.");
        }
        if (request.target() == null || request.target().isBlank()) {
            throw new InvalidRequest("\"target\" is required; configured targets: " + targets.names() + ".");
        }
        Target target = targets.require(request.target());
        if (!target.scratch() && !identity.hasRole(Roles.RESTORER)) {
            throw new ForbiddenException("only restorer tokens may restore into an in-place target");
        }
        String backup = request.backupId();
        boolean byBackup = backup != null && !backup.isBlank();
        boolean byTime = request.pointInTime() != null && !request.pointInTime().isBlank();
        if (byBackup == byTime) {
            throw new InvalidRequest("Send exactly one of \"backupId\" (a backup id, \"latest\" or \"latest-verified\") "
                    + "and \"pointInTime\" (with \"database\": " + PointInTime.FORM + ").");
        }
        PointInTime pointInTime = null;
        String database = request.database();
        if (byTime) {
            pointInTime = PointInTime.parse(request.pointInTime());
            if (request.database() == null || request.database().isBlank()) {
                throw new InvalidRequest("\"pointInTime\" needs \"database\": the label of the database whose base "
                        + "backups and WAL archive to recover from.");
            }
            backup = null;
        } else if (BackupIds.isBase(backup)) {
            // a base backup by id: recovered to its own end (the drill verify-service runs), then dumped and loaded
            String label = BackupIds.labelOfBase(backup);
            if (request.database() != null && !request.database().isBlank() && !request.database().equals(label)) {
                throw new InvalidRequest("Base backup " + backup + " is of database '" + label + "', not '"
                        + request.database().replaceAll("\\p{Cntrl}", "?") + "'.");
            }
            pointInTime = PointInTime.END_OF_BACKUP;
            database = label;
        } else if (!RestoreRequestSpec.LATEST.equals(backup) && !RestoreRequestSpec.LATEST_VERIFIED.equals(backup)) {
            BackupIds.validate(backup);
        }
        if (database != null && !database.isBlank()) {
            BackupIds.validateLabel(database);
        }
        RestoreMode mode = null;
        if (request.mode() != null) {
            mode = RestoreMode.parse(request.mode());
            if (mode == null) {
                throw new InvalidRequest("Unknown mode '" + request.mode().replaceAll("\\p{Cntrl}", "?")
                        + "'; use clean-schema or recreate-database.");
            }
        }
        RolesOption roles = null;
        if (request.roles() != null) {
            roles = RolesOption.parse(request.roles());
            if (roles == null) {
                throw new InvalidRequest("Unknown roles option '" + request.roles().replaceAll("\\p{Cntrl}", "?")
                        + "'; use create-missing or require.");
            }
        }
        boolean safety = request.safetyBackup() != null ? request.safetyBackup() : target.safetyBackup();
        boolean scaleDown = request.scaleDown() == null || request.scaleDown();
        RestoreJob job = service.start(request.target(),
                new RestoreRequestSpec(backup, database, mode, safety, scaleDown, roles, pointInTime));
        URI location = uri.getBaseUriBuilder().path("api/v1/restores").path(job.id()).build();
        if (!wait) {
            return Response.accepted(view(job)).location(location).build();
        }
        RestoreJob done = service.await(job);
        if (done.state() == JobState.FAILED) {
            throw new JobFailed("restore", done.id(), done.error(), "/api/v1/restores/" + done.id());
        }
        return Response.created(location).entity(view(done)).build();
    }

    @GET
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "List restores", description = "The restores running on other replicas (from their job "
            + "records, with their holder), then this replica's: running first, then finished ones, newest first; "
            + "kept in memory (lifeboat.restore.job-history).")
    public List<RestoreView> list(@QueryParam("target") String target) {
        boolean all = target == null || target.isBlank();
        if (!all) {
            targets.require(target);
        }
        return java.util.stream.Stream.concat(
                service.runningElsewhere().stream().filter(r -> all || target.equals(r.key())).map(RestoreResource::view),
                service.jobs().stream().filter(j -> all || j.target().equals(target)).map(RestoreResource::view))
                .toList();
    }

    @GET
    @Path("{id}")
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "One restore: phase, steps with timings, progress, error", description = "From any replica: "
            + "this replica's job, else its record in the store (ABANDONED when its replica stopped before it ended). "
            + "With waitSeconds=N (1-" + MAX_WAIT_SECONDS + "), a restore running on this replica is answered as soon "
            + "as it has ended, or after N seconds as it is then: a caller waiting for the end need not poll at a "
            + "guessed interval.")
    public RestoreView get(@PathParam("id") String id, @QueryParam("waitSeconds") Integer waitSeconds) {
        RestoreService.validateId(id);
        if (waitSeconds != null && (waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS)) {
            throw new InvalidRequest("waitSeconds is between 0 and " + MAX_WAIT_SECONDS + "; got " + waitSeconds + ".");
        }
        // this replica's job; else the stored record of a job of another replica (or of this one before a restart)
        return service.job(id)
                .map(job -> view(waitSeconds == null || waitSeconds == 0 ? job
                        : service.await(job, Duration.ofSeconds(waitSeconds))))
                .or(() -> service.record(id).map(RestoreResource::view))
                .orElseThrow(() -> new RestoreNotFound("No restore with id '" + id + "' is known (its record is kept "
                        + "in the store for lifeboat.restore.scratch-ttl after it ended)."));
    }

    @DELETE
    @Path("{id}/database")
    @RolesAllowed({Roles.RESTORER, Roles.OPERATOR})
    @Operation(summary = "Drop the scratch database of a finished restore")
    public Response dropDatabase(@PathParam("id") String id) {
        RestoreService.validateId(id);
        service.dropScratch(id);
        return Response.noContent().build();
    }

    /** A restore job as the API shows it. */
    static RestoreView view(RestoreJob job) {
        long total = job.totalBytes();
        double percent = total <= 0 ? 0 : Math.min(100.0, Math.round(job.bytesRestored() * 1000.0 / total) / 10.0);
        return new RestoreView(job.id(), job.target(), job.backupId(), job.spec().mode(), job.state(), job.phase(),
                job.database(), job.databaseDropped() ? Boolean.TRUE : null, job.safetyBackupId(), job.startedAt(),
                job.finishedAt(), new RestoreView.Progress(job.bytesRestored(), total, percent,
                Math.round(job.elapsedSeconds() * 10) / 10.0), job.steps(), job.error(), job.failure(), job.holder());
    }

    /** A restore as its stored record tells it (run by another replica, or by this one before a restart). */
    static RestoreView view(JobRecord r) {
        Map<String, String> detail = r.detail() == null ? Map.of() : r.detail();
        Map<String, Double> progress = r.progress() == null ? Map.of() : r.progress();
        long done = progress.getOrDefault("bytesRestored", 0.0).longValue();
        long total = progress.getOrDefault("totalBytes", 0.0).longValue();
        double percent = total <= 0 ? 0 : Math.min(100.0, Math.round(done * 1000.0 / total) / 10.0);
        List<Step<RestoreStep>> steps = r.steps() == null ? List.of() : r.steps().stream()
                .filter(s -> step(s.name()) != null)
                .map(s -> new Step<>(step(s.name()), s.status(), s.startedAt(), s.finishedAt(), s.seconds(), s.detail()))
                .toList();
        String failure = detail.get("failure");
        return new RestoreView(r.id(), detail.getOrDefault("target", r.key()), detail.get("backupId"),
                RestoreMode.parse(detail.get("mode")), r.state(), step(r.phase()), detail.get("database"), null,
                detail.get("safetyBackupId"), r.startedAt(), r.finishedAt(),
                new RestoreView.Progress(done, total, percent, r.elapsedSeconds()), steps, r.error(),
                failure == null ? null : Arrays.stream(RestoreFailure.values()).filter(f -> f.name().equals(failure))
                        .findFirst().orElse(RestoreFailure.OTHER), r.holder());
    }

    /** The step of that name; null for none, or one this version does not know (written by a newer one). */
    private static RestoreStep step(String name) {
        return name == null ? null : Arrays.stream(RestoreStep.values()).filter(s -> s.name().equals(name)).findFirst()
                .orElse(null);
    }
}
