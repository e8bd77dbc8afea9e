package dev.lifeboat.common.client;

import dev.lifeboat.common.api.BackupView;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.rest.client.inject.RegisterRestClient;

/** backup-service's HTTP API as a REST client; used only through {@link BackupServiceClient}. */
@RegisterRestClient(configKey = "lifeboat-backup-service")
@Path("/api/v1/backups")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
interface BackupApi {

    @POST
    BackupView start(@HeaderParam("Authorization") String authorization, BackupServiceClient.StartRequest request);

    @GET
    @Path("{id}")
    BackupView get(@HeaderParam("Authorization") String authorization, @PathParam("id") String id);
}
