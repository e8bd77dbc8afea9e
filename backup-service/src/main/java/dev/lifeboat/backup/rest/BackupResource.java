package dev.lifeboat.backup.rest;

import dev.lifeboat.backup.retention.RetentionService;
import dev.lifeboat.backup.service.BackupJob;
import dev.lifeboat.backup.service.BackupService;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.error.Errors.JobFailed;
import dev.lifeboat.common.api.BackupView;
import dev.lifeboat.common.job.JobRecord;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupKind;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.security.Roles;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.identity.SecurityIdentity;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The backup API (DESIGN §6): start a backup, list and read backups, delete them and change their labels. Thin: the work is in {@link BackupService}. */
@Path("/api/v1/backups")
@Produces(MediaType.APPLICATION_JSON)
public class BackupResource {
    private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9._/-]{1,63}");
    private static final int MAX_LABELS = 20;
    private static final int MAX_LABEL_VALUE = 256;

    private final BackupService service;
    private final BackupCatalog catalog;
    private final DatabaseRegistry databases;
    private final SecurityIdentity identity;
    private final RetentionService retention;

    public BackupResource(BackupService service, BackupCatalog catalog, DatabaseRegistry databases,
                          SecurityIdentity identity, RetentionService retention) {
        this.service = service;
        this.catalog = catalog;
        this.databases = databases;
        this.identity = identity;
        this.retention = retention;
    }

    @POST
    @RolesAllowed({Roles.OPERATOR, Roles.RESTORER})
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Start a backup", description = "202 + Location at once; with wait=true, 201 with the "
            + "completed backup when done. 409 when a backup of that database is already running, or when its server "
            + "is newer than every pg_dump here (type pg-version-unsupported: nothing is tried). kind=base takes a base "
            + "backup (pg_basebackup, point-in-time recovery): 409 pitr-unavailable when PITR is not enabled for the "
            + "database or its server lacks a prerequisite (named); it may run beside a logical backup.")
    public Response create(BackupRequest request, @QueryParam("wait") boolean wait, @jakarta.ws.rs.core.Context UriInfo uri) {
        BackupRequest r = request == null ? new BackupRequest(null, null, null, null) : request;
        String database = databases.resolve(r.database());
        BackupKind kind = BackupKind.parse(r.kind());
        Trigger trigger = r.trigger() == null ? Trigger.MANUAL : r.trigger();
        if (kind == BackupKind.BASE && trigger != Trigger.MANUAL) {
            throw new InvalidRequest("A base backup is taken MANUAL (or by its schedule); trigger " + trigger
                    + " is for logical backups.");
        }
        if (trigger == Trigger.SCHEDULED) {
            throw new InvalidRequest("trigger SCHEDULED is reserved for the scheduler; use MANUAL or PRE_RESTORE.");
        }
        if (!identity.hasRole(Roles.OPERATOR) && trigger != Trigger.PRE_RESTORE) {
            throw new ForbiddenException("restorer tokens may only take PRE_RESTORE backups");
        }
        Map<String, String> labels = validLabels(r.labels());
        BackupJob job = service.start(database, kind, trigger, labels);
        URI location = uri.getBaseUriBuilder().path("api/v1/backups").path(job.id()).build();
        if (!wait) {
            return Response.accepted(view(job)).location(location).build();
        }
        BackupJob done = service.await(job);
        if (done.state() == JobState.FAILED) {
            throw new JobFailed("backup", done.id(), done.error(), "/api/v1/backups/" + done.id());
        }
        return Response.created(location).entity(view(done)).build();
    }

    @GET
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "List backups, newest first", description = "Running backups first (of every replica, each "
            + "with its holder), then completed ones. "
            + "verified=true: only backups proven restorable by verify-service (a passed full verification and no "
            + "failed one since); verified=false: only the others; running backups, and backups whose metadata is "
            + "untrusted or damaged (cannot be parsed: shown with its key and the error), are listed only without it. "
            + "kind=base: the base backups (point-in-time recovery), running and completed, instead; kind=logical: only "
            + "logical ones (also the running ones).")
    public List<BackupView> list(@QueryParam("database") String database, @QueryParam("verified") Boolean verified,
                                 @QueryParam("kind") String kind) {
        List<String> labels = database == null || database.isBlank() ? List.copyOf(databases.labels())
                : List.of(databases.require(database));
        BackupKind only = kind == null ? null : BackupKind.parse(kind);
        List<BackupView> out = new ArrayList<>();
        if (only == BackupKind.BASE) {
            if (verified != null) {
                throw new InvalidRequest("Base backups are not verified yet: leave out verified with kind=base.");
            }
            service.runningJobs().stream().filter(j -> j.kind() == BackupKind.BASE && labels.contains(j.database()))
                    .map(BackupResource::view).forEach(out::add);
            service.runningElsewhere().stream().filter(r -> labels.contains(r.key()) && kindOf(r) == BackupKind.BASE)
                    .map(BackupResource::view).forEach(out::add);
            labels.forEach(label -> catalog.listBase(label).stream().map(BackupView::of).forEach(out::add));
            return out;
        }
        if (verified == null) {
            service.runningJobs().stream().filter(j -> labels.contains(j.database()))
                    .filter(j -> only == null || j.kind() == only).map(BackupResource::view).forEach(out::add);
            // and those running on other replicas, from their job records
            service.runningElsewhere().stream().filter(r -> labels.contains(r.key()))
                    .filter(r -> only == null || only == kindOf(r)).map(BackupResource::view).forEach(out::add);
        }
        List<BackupView> completed = new ArrayList<>();
        for (String label : labels) {
            Map<String, List<VerificationRecord>> records = catalog.verifications(label);
            Map<String, Map<String, String>> labelSets = catalog.labelOverrides(label);
            for (BackupMetadata listed : catalog.list(label)) {
                BackupMetadata m = labelSets.containsKey(listed.id()) ? listed.withLabels(labelSets.get(listed.id()))
                        : listed;
                BackupView view = BackupView.of(m, records.getOrDefault(m.id(), List.of()));
                if (verified == null || verified == view.verification().verified()) {
                    completed.add(view);
                }
            }
            if (verified == null) {
                catalog.listUntrusted(label).stream().map(BackupView::untrusted).forEach(completed::add);
                catalog.damagedAsListed(label).stream().map(BackupView::damaged).forEach(completed::add);
            }
        }
        // newest first; a damaged backup whose name carries no time goes last
        completed.sort(java.util.Comparator.comparing(BackupView::startedAt,
                java.util.Comparator.nullsFirst(java.util.Comparator.<java.time.Instant>naturalOrder())).reversed());
        // a job that has just ended is committed before its record says so: list it once, as the backup it made
        java.util.Set<String> committed = completed.stream().map(BackupView::id).collect(java.util.stream.Collectors.toSet());
        out.removeIf(v -> committed.contains(v.id()));
        out.addAll(completed);
        return out;
    }

    @GET
    @Path("latest")
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "The newest completed backup", description = "verified=true: the newest backup proven "
            + "restorable by verify-service.")
    public BackupView latest(@QueryParam("database") String database, @QueryParam("verified") boolean verified) {
        String label = databases.resolve(database);
        if (verified) {
            return catalog.latestVerified(label).map(catalog::withCurrentLabels)
                    .map(m -> BackupView.of(m, catalog.verificationsOf(label, m.id())))
                    .orElseThrow(() -> new BackupNotFound("Database '" + label + "' has no backup proven restorable "
                            + "yet (a passed full verification by verify-service, and no failed one since)."));
        }
        return catalog.latest(label).map(catalog::withCurrentLabels)
                .map(m -> BackupView.of(m, catalog.verificationsOf(label, m.id())))
                .orElseThrow(() -> new BackupNotFound("Database '" + label + "' has no completed backup yet."));
    }

    @GET
    @Path("{id}")
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "One backup: running (with progress), failed (with the reason) or completed (with its "
            + "verification state)")
    public BackupView get(@PathParam("id") String id) {
        BackupIds.validate(id);
        if (BackupIds.isBase(id)) {
            return service.job(id).filter(j -> j.state() != JobState.COMPLETED).map(BackupResource::view)
                    .or(() -> service.record(id).filter(r -> r.state() != JobState.COMPLETED).map(BackupResource::view))
                    .orElseGet(() -> catalog.findBase(id).map(BackupView::of).orElseThrow(() ->
                            new BackupNotFound("No completed base backup with id '" + id + "'.")));
        }
        // this replica's job; else the stored record of a job of another replica (or of this one before a restart)
        return service.job(id).filter(j -> j.state() != JobState.COMPLETED).map(BackupResource::view)
                .or(() -> service.record(id).filter(r -> r.state() != JobState.COMPLETED).map(BackupResource::view))
                .orElseGet(() -> {
                    BackupMetadata m = catalog.withCurrentLabels(catalog.get(id));
                    return BackupView.of(m, catalog.verificationsOf(m.database(), id));
                });
    }

    @DELETE
    @Path("{id}")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Delete a backup", description = "Metadata first (the backup leaves every listing at once), "
            + "then data, verification records, label sidecars and roles object. 409 backup-protected for the newest "
            + "good backup, the newest verified one and one labelled keep=true, unless force=true. 204 when deleted.")
    public Response delete(@PathParam("id") String id, @QueryParam("force") boolean force) {
        retention.delete(id, force, identity.getPrincipal().getName());
        return Response.noContent().build();
    }

    @PATCH
    @Path("{id}")
    @RolesAllowed(Roles.OPERATOR)
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Change a backup's labels", description = "{\"labels\": {\"keep\": \"true\"}} merges into the "
            + "backup's labels; a null value removes a label. keep=true protects the backup from retention and from "
            + "DELETE without force. Stored as a signed label sidecar: the metadata itself is write-once.")
    public BackupView patch(@PathParam("id") String id, LabelPatch patch) {
        BackupMetadata m = catalog.withCurrentLabels(catalog.get(id));
        if (patch == null || patch.labels() == null) {
            throw new InvalidRequest("Send {\"labels\": {...}}: the labels to set (a null value removes one).");
        }
        Map<String, String> merged = new java.util.TreeMap<>(m.labels() == null ? Map.of() : m.labels());
        Map<String, String> set = new java.util.HashMap<>();
        patch.labels().forEach((k, v) -> {
            if (v == null) {
                merged.remove(k);
            } else {
                set.put(k, v);
            }
        });
        validLabels(set);
        merged.putAll(set);
        validLabels(merged);
        try {
            catalog.setLabels(m.database(), id, merged);
        } catch (java.io.IOException e) {
            throw new dev.lifeboat.common.error.Errors.StoreUnavailable("Cannot store the labels of " + id + ": "
                    + e.getMessage(), e);
        }
        org.jboss.logging.Logger.getLogger("lifeboat.audit").infof("labels of backup %s set to %s by %s", id, merged,
                identity.getPrincipal().getName());
        return BackupView.of(m.withLabels(merged), catalog.verificationsOf(m.database(), id));
    }

    /** The body of {@code PATCH /api/v1/backups/{id}}: labels to set; a null value removes the label. */
    @io.quarkus.runtime.annotations.RegisterForReflection
    public record LabelPatch(Map<String, String> labels) {
    }

    /** A backup job as the API shows it: once completed, as its metadata. */
    static BackupView view(BackupJob job) {
        if (job.state() == JobState.COMPLETED) {
            return job.kind() == BackupKind.BASE ? BackupView.of(job.baseMetadata()) : BackupView.of(job.metadata(), List.of());
        }
        return new BackupView(job.id(), job.database(), job.state(), job.trigger(), job.startedAt(), job.finishedAt(),
                new BackupView.Progress(job.bytesRead(), job.bytesStored(), Math.round(job.elapsedSeconds() * 10) / 10.0),
                job.error(), null, null, null, null, job.holder(), job.kind(), null);
    }

    /** A backup job of another replica (or of this one before a restart), as its stored record has it. */
    static BackupView view(JobRecord r) {
        Map<String, Double> p = r.progress() == null ? Map.of() : r.progress();
        String trigger = r.detail() == null ? null : r.detail().get("trigger");
        return new BackupView(r.id(), r.key(), r.state(), trigger == null ? null : Trigger.valueOf(trigger),
                r.startedAt(), r.finishedAt(), new BackupView.Progress(p.getOrDefault("bytesRead", 0.0).longValue(),
                p.getOrDefault("bytesStored", 0.0).longValue(), r.elapsedSeconds()), r.error(), null, null, null,
                null, r.holder(), kindOf(r), null);
    }

    /** The kind of backup a job record is of (records written before base backups existed are logical). */
    private static BackupKind kindOf(JobRecord r) {
        String kind = r.detail() == null ? null : r.detail().get("kind");
        return kind == null ? BackupKind.LOGICAL : BackupKind.valueOf(kind);
    }

    private static Map<String, String> validLabels(Map<String, String> labels) {
        if (labels == null) {
            return Map.of();
        }
        if (labels.size() > MAX_LABELS) {
            throw new InvalidRequest("At most " + MAX_LABELS + " labels; got " + labels.size() + ".");
        }
        labels.forEach((k, v) -> {
            if (k == null || !LABEL_KEY.matcher(k).matches()) {
                throw new InvalidRequest("A label key has 1 to 63 characters of letters, digits and ._/-.");
            }
            if (v == null || v.length() > MAX_LABEL_VALUE || v.chars().anyMatch(Character::isISOControl)) {
                throw new InvalidRequest("Label '" + k + "': the value must be 0 to " + MAX_LABEL_VALUE
                        + " printable characters.");
            }
        });
        return labels;
    }
}
