package dev.lifeboat.restore.rest;

import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.error.Errors.RestoreNotFound;
import dev.lifeboat.common.error.Problem;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.security.Roles;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import dev.lifeboat.restore.service.RestoreJob;
import dev.lifeboat.restore.service.RestoreMode;
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
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The restore API (DESIGN §6). Thin: the steps are in {@link RestoreService}. {@code restorer} tokens may
 * restore into any target; {@code operator} tokens (verify-service's) only into scratch targets.
 */
@Path("/api/v1/restores")
@Produces(MediaType.APPLICATION_JSON)
public class RestoreResource {
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
        boolean safety = request.safetyBackup() != null ? request.safetyBackup() : target.safetyBackup();
        boolean scaleDown = request.scaleDown() == null || request.scaleDown();
        RestoreJob job = service.start(request.target(),
                new RestoreRequestSpec(backup, request.database(), mode, safety, scaleDown));
        URI location = uri.getBaseUriBuilder().path("api/v1/restores").path(job.id()).build();
        if (!wait) {
            return Response.accepted(RestoreView.of(job)).location(location).build();
        }
        RestoreJob done = service.await(job);
        if (done.status() == RestoreJob.Status.FAILED) {
            return Response.status(500).type(Problem.MEDIA_TYPE)
                    .entity(new Problem("/problems/restore-failed", "Restore failed", 500,
                            "Restore " + done.id() + " failed: " + done.error(), "/api/v1/restores/" + done.id()))
                    .location(location).build();
        }
        return Response.created(location).entity(RestoreView.of(done)).build();
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
                .map(RestoreView::of).toList();
    }

    @GET
    @Path("{id}")
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "One restore: phase, steps with timings, progress, error")
    public RestoreView get(@PathParam("id") String id) {
        RestoreService.validateId(id);
        return service.job(id).map(RestoreView::of)
                .orElseThrow(() -> new RestoreNotFound("No restore with id '" + id + "' is known (finished restores are "
                        + "kept in memory until a restart or lifeboat.restore.job-history is exceeded)."));
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
}
