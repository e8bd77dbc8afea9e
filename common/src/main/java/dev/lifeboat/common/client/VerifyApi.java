package dev.lifeboat.common.client;

import dev.lifeboat.common.api.VerificationRequest;
import dev.lifeboat.common.api.VerificationView;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.rest.client.inject.RegisterRestClient;

/** verify-service's HTTP API as a REST client; used only through {@link VerifyServiceClient}. */
@RegisterRestClient(configKey = "lifeboat-verify-service")
@Path("/api/v1/verifications")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
interface VerifyApi {

    @POST
    VerificationView request(@HeaderParam("Authorization") String authorization, VerificationRequest request);
}
