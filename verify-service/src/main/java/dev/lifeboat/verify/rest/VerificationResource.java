package dev.lifeboat.verify.rest;

import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.api.VerificationRequest;
import dev.lifeboat.common.api.VerificationView;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.job.JobRecord;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.StepName;
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
import java.util.Map;
import java.util.Optional;
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
        if (BackupIds.isBase(request.backupId())) {
            if (level != Level.FULL) {
                throw new InvalidRequest("Base backup " + request.backupId() + " is verified at level full only (a "
                        + "point-in-time drill: recovered with its WAL, every table read, amcheck, the SQL checks).");
            }
            BaseBackupMetadata base = catalog.findBase(request.backupId()).orElseThrow(() -> new BackupNotFound(
                    "No completed base backup " + request.backupId() + "."));
            databases.require(base.database());
            return answer(service.submitBase(base, trigger), wait, uri);
        }
        BackupMetadata backup;
        if ("latest".equals(request.backupId())) {
            String label = label(request.database());
            backup = catalog.latest(label).orElseThrow(() -> new BackupNotFound("Database '" + label
                    + "' has no completed backup."));
        } else {
            backup = catalog.get(BackupIds.validate(request.backupId()));
        }
        return answer(service.submit(backup, level, trigger), wait, uri);
    }

    /** 202 with the queued job, or with {@code wait} 201 once it finished. */
    private Response answer(VerificationJob job, boolean wait, UriInfo uri) {
        URI location = uri.getBaseUriBuilder().path("api/v1/verifications").path(job.id()).build();
        if (!wait) {
            return Response.accepted(view(job)).location(location).build();
        }
        return Response.created(location).entity(view(service.await(job))).build();
    }

    @GET
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @org.eclipse.microprofile.openapi.annotations.Operation(summary = "List verifications",
            description = "Queued and running ones first (the running ones of every replica, each with its holder), "
                    + "then stored ones, newest first; of one backup, one database or all.")
    public List<VerificationView> list(@QueryParam("backupId") String backupId, @QueryParam("database") String database,
                                       @QueryParam("limit") Integer limit) {
        int max = limit == null ? 100 : limit;
        if (max < 1 || max > MAX_LIMIT) {
            throw new InvalidRequest("\"limit\" is 1 to " + MAX_LIMIT + "; got " + max + ".");
        }
        String label = null;
        if (backupId != null && !backupId.isBlank()) {
            BackupIds.validate(backupId);
            label = BackupIds.isBase(backupId) ? BackupIds.labelOfBase(backupId) : BackupIds.labelOf(backupId);
        } else if (database != null && !database.isBlank()) {
            label = databases.require(database);
        }
        String db = label;
        String backup = backupId == null || backupId.isBlank() ? null : backupId;
        List<VerificationView> out = new ArrayList<>();
        List<VerificationJob> active = new ArrayList<>(service.activeJobs());
        java.util.Collections.reverse(active);
        active.stream().filter(j -> (backup == null || j.backupId().equals(backup)) && (db == null || j.database().equals(db)))
                .map(this::view).forEach(out::add);
        service.activeElsewhere().stream().filter(r -> r.detail() != null
                        && (backup == null || backup.equals(r.key())) && (db == null || db.equals(r.detail().get("database"))))
                .map(VerificationResource::recordView).forEach(out::add);
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
            + "timings, the failed step and table, the measured restore time",
            description = "From any replica: one running on another replica is read from its job record (with its "
                    + "holder); one whose replica went silent is ABANDONED, with the reason.")
    public VerificationView get(@PathParam("id") String id) {
        VerificationService.validateId(id);
        // this replica's job; else the job record of another replica's (or of this one before a restart) while it
        // runs or once abandoned; else the stored verification record; else a finished job's record alone (its
        // verification record could not be stored)
        Optional<VerificationJob> local = service.job(id);
        Optional<JobRecord> record = local.isPresent() ? Optional.empty() : service.jobRecord(id);
        return local.map(this::view)
                .or(() -> record.filter(r -> r.state() != JobState.COMPLETED).map(VerificationResource::recordView))
                .or(() -> service.record(id).map(VerificationView::of))
                .or(() -> record.map(VerificationResource::recordView))
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
    VerificationView view(VerificationJob job) {
        VerificationRecord r = job.record();
        if (job.status() == VerificationView.Status.FINISHED) {
            return VerificationView.of(r);
        }
        VerificationView.Progress progress = job.status() == VerificationView.Status.RUNNING
                ? new VerificationView.Progress(job.bytesChecked(), job.storedBytes(), job.restorePercent(),
                job.tablesCompared(), job.tables()) : null;
        return new VerificationView(r.id(), r.backupId(), r.database(), r.level(), r.trigger(), job.status(), null,
                job.phase(), r.startedAt(), null, null, progress, null, null, null, job.restoreId(), null, null, null,
                r.steps(), service.instance());
    }

    /** A verification of another replica (or of this one before a restart), as its job record has it. */
    static VerificationView recordView(JobRecord r) {
        Map<String, String> d = r.detail() == null ? Map.of() : r.detail();
        Map<String, Double> p = r.progress() == null ? Map.of() : r.progress();
        VerificationView.Status status = switch (r.state()) {
            case QUEUED -> VerificationView.Status.QUEUED;
            case RUNNING -> VerificationView.Status.RUNNING;
            case COMPLETED, FAILED -> VerificationView.Status.FINISHED;
            case ABANDONED -> VerificationView.Status.ABANDONED;
        };
        VerificationView.Progress progress = r.state() == JobState.RUNNING ? new VerificationView.Progress(
                p.getOrDefault("bytesChecked", 0.0).longValue(), p.getOrDefault("storedBytes", 0.0).longValue(),
                p.getOrDefault("restorePercent", 0.0), p.getOrDefault("tablesCompared", 0.0).intValue(),
                p.getOrDefault("tables", 0.0).intValue()) : null;
        List<Step<StepName>> steps = r.steps() == null ? null : r.steps().stream().map(s -> new Step<>(
                StepName.valueOf(s.name()), s.status(), s.startedAt(), s.finishedAt(), s.seconds(), s.detail())).toList();
        return new VerificationView(r.id(), d.get("backupId"), d.get("database"), Level.parse(d.get("level")),
                d.containsKey("trigger") ? Trigger.valueOf(d.get("trigger")) : null, status,
                d.containsKey("result") ? VerificationRecord.Result.valueOf(d.get("result")) : null,
                r.phase() == null ? null : StepName.valueOf(r.phase()), r.startedAt(), r.finishedAt(),
                r.state().done() ? r.elapsedSeconds() : null, progress, null, null, r.error(), d.get("restoreId"),
                null, null, null, steps, r.state().done() && r.state() != JobState.ABANDONED ? null : r.holder());
    }
}
