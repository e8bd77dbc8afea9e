package dev.lifeboat.restore.rest;

import dev.lifeboat.common.api.RestoreView;
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
import java.util.List;
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
            throw new InvalidRequest("A JSON body is required: {\"backupId\": \"<id>|latest|latest-verified\", \"target\": \"<name>\"}.");
        }
        if (request.target() == null || request.target().isBlank()) {
            throw new InvalidRequest("\"target\" is required; configured targets: " + targets.names() + ".");
        }
        Target target = targets.require(request.target());
        if (!target.scratch() && !identity.hasRole(Roles.RESTORER)) {
            throw new ForbiddenException("only restorer tokens may restore into an in-place target");
        }
        String backup = request.backupId();
        if (backup == null || backup.isBlank()) {
            throw new InvalidRequest("\"backupId\" is required: a backup id, \"latest\" or \"latest-verified\".");
        }
        if (!RestoreRequestSpec.LATEST.equals(backup) && !RestoreRequestSpec.LATEST_VERIFIED.equals(backup)) {
            BackupIds.validate(backup);
        }
        if (request.database() != null && !request.database().isBlank()) {
            BackupIds.validateLabel(request.database());
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
                new RestoreRequestSpec(backup, request.database(), mode, safety, scaleDown, roles));
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
    @Operation(summary = "List restores", description = "Running first, then finished ones, newest first; kept in "
            + "memory (lifeboat.restore.job-history).")
    public List<RestoreView> list(@QueryParam("target") String target) {
        if (target != null && !target.isBlank()) {
            targets.require(target);
        }
        return service.jobs().stream().filter(j -> target == null || target.isBlank() || j.target().equals(target))
                .map(RestoreResource::view).toList();
    }

    @GET
    @Path("{id}")
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "One restore: phase, steps with timings, progress, error", description = "With "
            + "waitSeconds=N (1-" + MAX_WAIT_SECONDS + "), answers as soon as the restore has ended, or after N seconds "
            + "as it is then: a caller waiting for the end need not poll at a guessed interval.")
    public RestoreView get(@PathParam("id") String id, @QueryParam("waitSeconds") Integer waitSeconds) {
        RestoreService.validateId(id);
        if (waitSeconds != null && (waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS)) {
            throw new InvalidRequest("waitSeconds is between 0 and " + MAX_WAIT_SECONDS + "; got " + waitSeconds + ".");
        }
        RestoreJob job = service.job(id).orElseThrow(() -> new RestoreNotFound("No restore with id '" + id + "' is "
                + "known (finished restores are kept in memory until a restart or lifeboat.restore.job-history is "
                + "exceeded)."));
        return view(waitSeconds == null || waitSeconds == 0 ? job : service.await(job, Duration.ofSeconds(waitSeconds)));
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
                Math.round(job.elapsedSeconds() * 10) / 10.0), job.steps(), job.error(), job.failure());
    }
}
