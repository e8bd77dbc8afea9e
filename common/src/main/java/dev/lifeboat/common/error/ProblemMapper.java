package dev.lifeboat.common.error;

import com.fasterxml.jackson.core.JsonProcessingException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.util.UUID;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * The one place where exceptions become HTTP responses. Domain errors carry their own status; framework
 * errors keep theirs; anything else is a 500 whose body names an error id that is also logged with the stack
 * trace, so a response never contains one.
 */
public class ProblemMapper {
    private static final Logger LOG = Logger.getLogger(ProblemMapper.class);

    @ServerExceptionMapper
    public Response domain(LifeboatException e, UriInfo uri) {
        if (e instanceof Errors.JobFailed failed) {
            // the job's own URL is the instance, and where to read it again
            return Response.fromResponse(response(new Problem(e.type(), e.title(), e.status(), e.getMessage(),
                    failed.location()))).location(java.net.URI.create(failed.location())).build();
        }
        if (e.status() >= 500) {
            LOG.warnf("%s: %s", e.title(), e.getMessage());
        }
        return response(new Problem(e.type(), e.title(), e.status(), e.getMessage(), path(uri)));
    }

    @ServerExceptionMapper({io.quarkus.security.UnauthorizedException.class,
            io.quarkus.security.AuthenticationFailedException.class})
    public Response unauthorized(RuntimeException e, UriInfo uri) {
        return Response.fromResponse(response(new Problem("/problems/unauthorized", "Unauthorized", 401,
                        "Send a valid API token: Authorization: Bearer <token> (lifeboat.auth.tokens.*).", path(uri))))
                .header("WWW-Authenticate", "Bearer realm=\"lifeboat\"").build();
    }

    @ServerExceptionMapper
    public Response forbidden(io.quarkus.security.ForbiddenException e, UriInfo uri) {
        return response(new Problem("/problems/forbidden", "Forbidden", 403,
                "This token's roles do not allow this call (viewer: read; operator: backups and verifications; "
                        + "restorer: restores).", path(uri)));
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e, UriInfo uri) {
        int status = e.getResponse().getStatus();
        Response.Status known = Response.Status.fromStatusCode(status);
        String title = known != null ? known.getReasonPhrase() : "HTTP " + status;
        String detail = switch (status) {
            case 404 -> "No resource at this path.";
            case 405 -> "Method not allowed on this path.";
            case 415 -> "Unsupported media type; send application/json.";
            default -> rootMessage(e);
        };
        return response(new Problem("about:blank", title, status, detail, path(uri)));
    }

    @ServerExceptionMapper
    public Response json(JsonProcessingException e, UriInfo uri) {
        return response(new Problem("/problems/invalid-request", "Invalid request", 400,
                "The request body is not valid JSON for this endpoint: " + e.getOriginalMessage(), path(uri)));
    }

    /** Quarkus REST has its own mapper for this subtype (plain JSON body); ours keeps problem+json. */
    @ServerExceptionMapper
    public Response jsonMismatch(com.fasterxml.jackson.databind.exc.MismatchedInputException e, UriInfo uri) {
        return json(e, uri);
    }

    @ServerExceptionMapper
    public Response unexpected(Exception e, UriInfo uri) {
        String errorId = UUID.randomUUID().toString();
        LOG.errorf(e, "Unexpected error %s", errorId);
        return response(new Problem("/problems/internal-error", "Internal error", 500,
                "An unexpected error occurred; the service log has the details under error id " + errorId + ".",
                path(uri)));
    }

    static Response response(Problem problem) {
        return Response.status(problem.status()).type(Problem.MEDIA_TYPE).entity(problem).build();
    }

    private static String path(UriInfo uri) {
        return uri == null ? null : uri.getPath();
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String message = t.getMessage();
        return message == null || message.isBlank() ? "The request could not be processed." : message;
    }
}
