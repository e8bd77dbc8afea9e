package dev.lifeboat.backup.rest;

import dev.lifeboat.backup.service.StorageReport;
import dev.lifeboat.common.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** {@code GET /api/v1/storage}: the bucket lifecycle rules in force, bytes per storage class and cost per database. */
@Path("/api/v1/storage")
@Produces(MediaType.APPLICATION_JSON)
public class StorageResource {
    private final StorageReport report;

    public StorageResource(StorageReport report) {
        this.report = report;
    }

    @GET
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "Storage use", description = "The bucket lifecycle rules (Lifeboat's marked lifeboat=true), "
            + "bytes per storage class and an estimated monthly cost (lifeboat.store.prices.*) per database.")
    public StorageReport.View storage() {
        return report.view();
    }
}
