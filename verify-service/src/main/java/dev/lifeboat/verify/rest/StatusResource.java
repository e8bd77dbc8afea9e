package dev.lifeboat.verify.rest;

import dev.lifeboat.common.security.Roles;
import dev.lifeboat.verify.service.Databases;
import dev.lifeboat.verify.service.DrStatus;
import dev.lifeboat.verify.service.StatusService;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.time.Instant;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The disaster-recovery status in one place (DESIGN §6): per database, RPO and RTO against the objectives. */
@Path("/api/v1/status")
@Produces(MediaType.APPLICATION_JSON)
public class StatusResource {
    private final StatusService status;
    private final Databases databases;

    public StatusResource(StatusService status, Databases databases) {
        this.status = status;
        this.databases = databases;
    }

    @GET
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "Disaster-recovery status", description = "Per database: last backup and its age, last "
            + "backup proven restorable, RPO now against the objective, the measured restore time against the RTO, "
            + "size anomaly, and OK / AT_RISK / BREACHED with the findings behind it.")
    public DrStatus get(@QueryParam("database") String database) {
        if (database != null && !database.isBlank()) {
            return status.status(Instant.now(), databases.require(database));
        }
        return status.status(Instant.now(), null);
    }
}
