package dev.lifeboat.backup.retention;

import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.security.Roles;
import io.quarkus.security.identity.SecurityIdentity;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The retention API (DESIGN §5, §6): the dry-run plan and applying it. Thin: the work is in {@link RetentionService}. */
@Path("/api/v1/retention")
@Produces(MediaType.APPLICATION_JSON)
public class RetentionResource {
    private final RetentionService retention;
    private final DatabaseRegistry databases;
    private final SecurityIdentity identity;

    public RetentionResource(RetentionService retention, DatabaseRegistry databases, SecurityIdentity identity) {
        this.retention = retention;
        this.databases = databases;
        this.identity = identity;
    }

    @GET
    @Path("plan")
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR})
    @Operation(summary = "Dry run: each backup with KEEP or DELETE and why", description = "One plan per database "
            + "(all, or ?database=). 409 clock-behind when the clock reads earlier than the newest backup's finish time.")
    public List<RetentionPlan> plan(@QueryParam("database") String database) {
        List<RetentionPlan> out = new ArrayList<>();
        for (String label : labels(database)) {
            out.add(retention.plan(label));
        }
        return out;
    }

    @POST
    @Path("apply")
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Apply the retention plan now", description = "Computes the plan as GET /plan does and "
            + "deletes its DELETE entries; returns the plans applied. A database whose policy is off deletes nothing.")
    public List<RetentionPlan> apply(@QueryParam("database") String database) {
        List<RetentionPlan> out = new ArrayList<>();
        for (String label : labels(database)) {
            out.add(retention.apply(label, identity.getPrincipal().getName()));
        }
        return out;
    }

    private List<String> labels(String database) {
        return database == null || database.isBlank() ? List.copyOf(databases.labels())
                : List.of(databases.require(database));
    }
}
