package dev.lifeboat.verify.rest;

import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.api.VerificationRequest;
import dev.lifeboat.common.api.VerificationView;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Trigger;
import dev.lifeboat.common.security.Roles;
import dev.lifeboat.verify.service.Databases;
import dev.lifeboat.verify.service.VerificationJob;
import dev.lifeboat.verify.service.VerificationService;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** The verification API (DESIGN §6). Thin: the steps are in {@code Verifier}, the queue in {@link VerificationService}. */
@Path("/api/v1/verifications")
@Produces(MediaType.APPLICATION_JSON)
public class VerificationResource {
    private static final int MAX_LIMIT = 1000;
    private final VerificationService service;
    private final BackupCatalog catalog;
    private final Databases databases;

    public VerificationResource(VerificationService service, BackupCatalog catalog, Databases databases) {
        this.service = service;
        this.catalog = catalog;
        this.databases = databases;
    }

    @POST
    @RolesAllowed(Roles.OPERATOR)
    @Consumes(MediaType.APPLICATION_JSON)
    @org.eclipse.microprofile.openapi.annotations.Operation(summary = "Verify a backup",
            description = "202 + Location at once (the verification is queued; one runs at a time); with wait=true, "
                    + "201 when it finished, whatever its result (PASSED, FAILED or ERROR). A verification of the same "
                    + "backup and level already queued or running is returned instead of a new one.")
    public Response create(VerificationRequest request, @QueryParam("wait") boolean wait, @Context UriInfo uri) {
        if (request == null || request.backupId() == null || request.backupId().isBlank()) {
            throw new InvalidRequest("\"backupId\" is required: a backup id or \"latest\" "
                    + "(e.g. {\"backupId\": \"latest\", \"level\": \"full\"}).");
        }
        Level level = request.level() == null ? Level.FULL : Level.parse(request.level());
        if (level == null) {
            throw new InvalidRequest("Unknown level '" + printable(request.level()) + "'; use full or checksum.");
        }
        Trigger trigger = Trigger.MANUAL;
        if (request.trigger() != null) {
            if (!Set.of("MANUAL", "NEW_BACKUP").contains(request.trigger())) {
                throw new InvalidRequest("\"trigger\" is MANUAL (default) or NEW_BACKUP; got '" + printable(request.trigger()) + "'.");
            }
            trigger = Trigger.valueOf(request.trigger());
        }
        BackupMetadata backup;
        if ("latest".equals(request.backupId())) {
            String label = label(request.database());
            backup = catalog.latest(label).orElseThrow(() -> new BackupNotFound("Database '" + label
                    + "' has no completed backup."));
        } else {
            backup = catalog.get(BackupIds.validate(request.backupId()));
        }
        VerificationJob job = service.submit(backup, level, trigger);
        URI location = uri.getBaseUriBuilder().path("api/v1/verifications").path(job.id()).build();
        if (!wait) {
            return Response.accepted(view(job)).location(location).build();
        }
        return Response.created(location).entity(view(service.await(job))).build();
    }

    @GET
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @org.eclipse.microprofile.openapi.annotations.Operation(summary = "List verifications",
            description = "Queued and running ones first, then stored ones, newest first; of one backup, one database "
                    + "or all.")
    public List<VerificationView> list(@QueryParam("backupId") String backupId, @QueryParam("database") String database,
                                       @QueryParam("limit") Integer limit) {
        int max = limit == null ? 100 : limit;
        if (max < 1 || max > MAX_LIMIT) {
            throw new InvalidRequest("\"limit\" is 1 to " + MAX_LIMIT + "; got " + max + ".");
        }
        String label = null;
        if (backupId != null && !backupId.isBlank()) {
            BackupIds.validate(backupId);
            label = BackupIds.labelOf(backupId);
        } else if (database != null && !database.isBlank()) {
            label = databases.require(database);
        }
        String db = label;
        String backup = backupId == null || backupId.isBlank() ? null : backupId;
        List<VerificationView> out = new ArrayList<>();
        List<VerificationJob> active = new ArrayList<>(service.activeJobs());
        java.util.Collections.reverse(active);
        active.stream().filter(j -> (backup == null || j.backupId().equals(backup)) && (db == null || j.database().equals(db)))
                .map(VerificationResource::view).forEach(out::add);
        // a job that just ended is both still listed as active and stored: list it once
        java.util.Set<String> listed = out.stream().map(VerificationView::id).collect(java.util.stream.Collectors.toSet());
        service.records(backup, db).stream().filter(r -> !listed.contains(r.id())).map(VerificationView::of)
                .forEach(out::add);
        return out.size() > max ? out.subList(0, max) : out;
    }

    @GET
    @Path("{id}")
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @org.eclipse.microprofile.openapi.annotations.Operation(summary = "One verification: status, result, steps with "
            + "timings, the failed step and table, the measured restore time")
    public VerificationView get(@PathParam("id") String id) {
        VerificationService.validateId(id);
        return service.job(id).map(VerificationResource::view)
                .or(() -> service.record(id).map(VerificationView::of))
                .orElseThrow(() -> new dev.lifeboat.common.error.Errors.VerificationNotFound(
                        "No verification with id '" + id + "' is queued, running or stored."));
    }

    /** The database for {@code latest}: the given label, or the only one known. */
    private String label(String database) {
        if (database != null && !database.isBlank()) {
            return databases.require(database);
        }
        Set<String> labels = databases.labels();
        if (labels.size() == 1) {
            return labels.iterator().next();
        }
        throw new InvalidRequest("\"latest\" needs \"database\": one of " + labels + ".");
    }

    private static String printable(String s) {
        String cut = s.length() > 60 ? s.substring(0, 60) + "..." : s;
        return cut.replaceAll("\\p{Cntrl}", "?");
    }

    /** A verification job as the API shows it: once finished, as its record. */
    static VerificationView view(VerificationJob job) {
        VerificationRecord r = job.record();
        if (job.status() == VerificationView.Status.FINISHED) {
            return VerificationView.of(r);
        }
        VerificationView.Progress progress = job.status() == VerificationView.Status.RUNNING
                ? new VerificationView.Progress(job.bytesChecked(), job.storedBytes(), job.restorePercent(),
                job.tablesCompared(), job.tables()) : null;
        return new VerificationView(r.id(), r.backupId(), r.database(), r.level(), r.trigger(), job.status(), null,
                job.phase(), r.startedAt(), null, null, progress, null, null, null, job.restoreId(), null, null, null,
                r.steps());
    }
}
