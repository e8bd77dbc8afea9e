package dev.lifeboat.common.store;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.Set;
import javax.net.ssl.SSLHandshakeException;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkException;

/**
 * Turns what the AWS SDK throws into the {@link StoreException} family, with a message that says what to check. The
 * one place that knows S3's status codes and error codes.
 */
final class S3Errors {
    /** Error codes S3 (and S3-compatible servers) answer when busy or briefly unable; worth another try. */
    private static final Set<String> TRANSIENT_CODES = Set.of("SlowDown", "InternalError", "ServiceUnavailable",
            "RequestTimeout", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
            "RequestThrottled", "BandwidthLimitExceeded", "EC2ThrottledException", "PriorRequestNotComplete",
            // the SDK corrects its clock offset from this answer, so the next attempt is signed with the right time
            "RequestTimeTooSkewed");
    /** Error codes about the credentials themselves (some answered with 400). */
    private static final Set<String> DENIED_CODES = Set.of("AccessDenied", "InvalidAccessKeyId",
            "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled",
            "AccountProblem", "InvalidSecurity", "NotSignedUp");

    private S3Errors() {
    }

    /**
     * The store failure behind {@code e}, thrown by {@code operation} on {@code key} (the store's key, or prefix)
     * stored at {@code where} ({@code s3://bucket/full-key}).
     */
    static StoreException classify(StoreOperation operation, String key, String bucket, String where, SdkException e) {
        if (e instanceof AwsServiceException service) {
            return fromService(operation, key, bucket, where, service);
        }
        if (e instanceof ApiCallTimeoutException || e instanceof ApiCallAttemptTimeoutException) {
            return new StoreException.Transient(operation, key, "S3 " + operation.s3Request() + " of " + where
                    + " timed out", e);
        }
        if (e instanceof AbortedException || cause(e, InterruptedIOException.class) != null
                || cause(e, InterruptedException.class) != null) {
            return new StoreException.Failed(operation, key, "S3 " + operation.s3Request() + " of " + where
                    + " was interrupted", e);
        }
        if (cause(e, SSLHandshakeException.class) != null) {
            return new StoreException.Failed(operation, key, "S3 " + operation.s3Request() + " of " + where
                    + " failed: TLS handshake with the endpoint failed (check lifeboat.store.s3.endpoint and its "
                    + "certificate)", e);
        }
        IOException io = cause(e, IOException.class);
        if (io != null) {
            return connection(operation, key, where, io, e);
        }
        String message = String.valueOf(e.getMessage());
        if (message.contains("Unable to load credentials")) {
            return new StoreException.AccessDenied(operation, key, "S3 " + operation.s3Request() + " of " + where
                    + " has no credentials: set lifeboat.store.s3.access-key-id and secret-access-key, or give the pod "
                    + "an IAM role (IRSA)", e);
        }
        return new StoreException.Failed(operation, key, "S3 " + operation.s3Request() + " of " + where + " failed: "
                + message, e);
    }

    /** A connection that failed or broke (reset, refused, timed out, cut short): transient. */
    static StoreException.Transient connection(StoreOperation operation, String key, String where, Throwable io,
                                               Throwable cause) {
        return new StoreException.Transient(operation, key, "S3 " + operation.s3Request() + " of " + where
                + " failed with a temporary connection error (" + io.getClass().getSimpleName()
                + (io.getMessage() == null ? "" : ": " + io.getMessage()) + ")", cause);
    }

    private static StoreException fromService(StoreOperation operation, String key, String bucket, String where,
                                              AwsServiceException e) {
        int status = e.statusCode();
        String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
        String answer = "(" + status + (code == null || code.isBlank() ? "" : " " + code) + ")";
        String request = "S3 " + operation.s3Request() + " of " + where;
        if ("InvalidObjectState".equals(code)) {
            return new StoreException.Archived(operation, key, "S3 object " + where + " is archived (storage class "
                    + "GLACIER or DEEP_ARCHIVE) and cannot be read until it is restored: restore it (S3 RestoreObject, "
                    + "e.g. aws s3api restore-object), wait for the restore to finish, then try again " + answer, e);
        }
        if (code != null && TRANSIENT_CODES.contains(code) || status == 429 || status >= 500 && status != 501) {
            return new StoreException.Transient(operation, key, request + " failed with a temporary error " + answer, e);
        }
        if (status == 403 || code != null && DENIED_CODES.contains(code)) {
            return new StoreException.AccessDenied(operation, key, "S3 access denied for " + operation.s3Request()
                    + " of " + where + ": check the credentials (lifeboat.store.s3.access-key-id and secret-access-key, "
                    + "or the pod's IAM role) and that the bucket policy allows " + operation.s3Permission() + " "
                    + answer, e);
        }
        if ("NoSuchBucket".equals(code) || status == 404 && operation == StoreOperation.CHECK_REACHABLE) {
            return new StoreException.NotFound(operation, key, "S3 bucket " + bucket + " does not exist: check "
                    + "lifeboat.store.s3.bucket, endpoint and region " + answer, e);
        }
        if ("NoSuchUpload".equals(code)) {
            return new StoreException.Conflict(operation, key, request + " failed: the multipart upload no longer "
                    + "exists; it was aborted meanwhile (the clean-up of stale uploads, or a lifecycle rule) and "
                    + "nothing was stored " + answer, e);
        }
        if (status == 404) {
            return new ObjectStore.ObjectNotFoundException(operation, key, "No object at " + key + " (" + where + ") "
                    + answer, e);
        }
        if (status == 409 || status == 412) {
            return new StoreException.Conflict(operation, key, request + " failed: a concurrent change got there "
                    + "first " + answer, e);
        }
        if (status == 301 || "PermanentRedirect".equals(code) || "AuthorizationHeaderMalformed".equals(code)) {
            return new StoreException.Failed(operation, key, request + " failed: the bucket is in another region "
                    + "than lifeboat.store.s3.region, or the endpoint is wrong " + answer, e);
        }
        return new StoreException.Failed(operation, key, request + " failed " + answer + ": "
                + (e.awsErrorDetails() == null ? e.getMessage() : e.awsErrorDetails().errorMessage()), e);
    }

    /** The first {@code type} in the cause chain of {@code e}, or null. */
    static <T extends Throwable> T cause(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }
}
