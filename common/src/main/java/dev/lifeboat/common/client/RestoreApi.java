package dev.lifeboat.common.client;

import dev.lifeboat.common.api.BackupView;
import dev.lifeboat.common.api.RestoreView;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.rest.client.inject.RegisterRestClient;

/** restore-service's HTTP API as a REST client; used only through {@link RestoreServiceClient}. */
@RegisterRestClient(configKey = "lifeboat-restore-service")
@Path("/api/v1/restores")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
interface RestoreApi {

    @POST
    RestoreView start(@HeaderParam("Authorization") String authorization, RestoreServiceClient.StartRequest request);

    @GET
    @Path("{id}")
    RestoreView get(@HeaderParam("Authorization") String authorization, @PathParam("id") String id,
                    @QueryParam("waitSeconds") Integer waitSeconds);

    @DELETE
    @Path("{id}/database")
    void dropDatabase(@HeaderParam("Authorization") String authorization, @PathParam("id") String id);
}
