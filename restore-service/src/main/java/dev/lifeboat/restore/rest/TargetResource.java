package dev.lifeboat.restore.rest;

import dev.lifeboat.common.security.Roles;
import dev.lifeboat.restore.service.Targets;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The configured restore targets, read-only: lets a client tell an in-place target from a scratch one before it
 * asks for a restore (the operator scripts ask for confirmation before replacing a database in place).
 */
@Path("/api/v1/targets")
@Produces(MediaType.APPLICATION_JSON)
public class TargetResource {
    private final Targets targets;

    public TargetResource(Targets targets) {
        this.targets = targets;
    }

    @GET
    @RolesAllowed({Roles.VIEWER, Roles.OPERATOR, Roles.RESTORER})
    @Operation(summary = "List restore targets", description = "Each target by name: scratch or in place, and for "
            + "in-place targets the database replaced, its label, the allowed modes and the safety-backup default.")
    public List<TargetView> list() {
        return targets.names().stream().map(name -> TargetView.of(name, targets.require(name))).toList();
    }
}
