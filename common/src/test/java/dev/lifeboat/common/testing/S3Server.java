package dev.lifeboat.common.testing;

import java.net.URI;
import java.util.Map;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.ForwardingBlobStore;
import org.gaul.s3proxy.blobstore.S3Exceptions;
import org.gaul.s3proxy.blobstore.domain.MultipartUpload;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * A real S3-protocol server (s3proxy) in this JVM, in memory, SigV4 authentication, on a free 127.0.0.1 port.
 * Setting the system property {@value #REFUSE_WRITES} to {@code true} makes it answer every write with 403, to
 * test a store that refuses writes midway (a system property, because Quarkus tests run in another class loader).
 */
public final class S3Server implements AutoCloseable {
    public static final String REFUSE_WRITES = "lifeboat.test.s3.refuse-writes";
    public static final String ACCESS_KEY = "lifeboat-test-access";
    public static final String SECRET_KEY = "lifeboat-test-secret-key";
    public static final String BUCKET = "lifeboat-test";

    private final S3Proxy proxy;

    private S3Server(S3Proxy proxy) {
        this.proxy = proxy;
    }

    public static S3Server start() {
        try {
            BlobStore store = new RefusingBlobStore(new TransientNio2BlobStore());
            store.createContainer(BUCKET);
            S3Proxy proxy = S3Proxy.builder().blobStore(store).endpoint(URI.create("http://127.0.0.1:0"))
                    .awsAuthentication(AuthenticationType.AWS_V4, ACCESS_KEY, SECRET_KEY).build();
            proxy.start();
            while (!"STARTED".equals(proxy.getState())) {
                Thread.sleep(10);
            }
            return new S3Server(proxy);
        } catch (Exception e) {
            throw new IllegalStateException("Cannot start the in-process S3 server", e);
        }
    }

    public String endpoint() {
        return "http://127.0.0.1:" + proxy.getPort();
    }

    /**
     * Lifeboat's store configuration ({@code lifeboat.store.*}) for this server's bucket under prefix {@code backups},
     * reached at {@code endpoint}: {@link #endpoint()}, or an {@link S3FaultProxy} in front of it.
     */
    /**
     * A store on this server under the prefix the services use ({@code backups}), retrying transient failures as the
     * services' store does ({@code StoreProducer}): a test that fills the store itself is as robust as they are.
     */
    public dev.lifeboat.common.store.ObjectStore store() {
        dev.lifeboat.common.store.RetryPolicy policy = new dev.lifeboat.common.store.RetryPolicy(
                new dev.lifeboat.common.store.RetryPolicy.Settings(8, java.time.Duration.ofMillis(100),
                        java.time.Duration.ofSeconds(2), java.time.Duration.ofMinutes(1)),
                dev.lifeboat.common.store.RetryPolicy.Listener.NONE);
        return new dev.lifeboat.common.store.RetryingObjectStore(new dev.lifeboat.common.store.S3ObjectStore(
                dev.lifeboat.common.store.StoreProducer.s3Client(URI.create(endpoint()),
                        software.amazon.awssdk.regions.Region.US_EAST_1, true,
                        software.amazon.awssdk.auth.credentials.StaticCredentialsProvider.create(
                                software.amazon.awssdk.auth.credentials.AwsBasicCredentials.create(ACCESS_KEY,
                                        SECRET_KEY))),
                BUCKET, "backups", dev.lifeboat.common.store.S3ObjectStore.MIN_PART_SIZE, policy), policy);
    }

    public static Map<String, String> storeProperties(String endpoint) {
        return Map.of(
                "lifeboat.store.type", "s3",
                "lifeboat.store.s3.bucket", BUCKET,
                "lifeboat.store.s3.prefix", "backups",
                "lifeboat.store.s3.endpoint", endpoint,
                "lifeboat.store.s3.path-style", "true",
                "lifeboat.store.s3.access-key-id", ACCESS_KEY,
                "lifeboat.store.s3.secret-access-key", SECRET_KEY);
    }

    @Override
    public void close() {
        try {
            proxy.stop();
        } catch (Exception ignored) {
            // test teardown
        }
    }

    private static boolean refusing() {
        return Boolean.getBoolean(REFUSE_WRITES);
    }

    private static final class RefusingBlobStore extends ForwardingBlobStore {
        RefusingBlobStore(BlobStore delegate) {
            super(delegate);
        }

        @Override
        public PutObjectResponse putBlob(PutObjectRequest request, java.io.InputStream in) {
            if (refusing()) {
                throw S3Exceptions.fromStatusCode(403);
            }
            return super.putBlob(request, in);
        }

        @Override
        public MultipartUpload initiateMultipartUpload(software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest request) {
            if (refusing()) {
                throw S3Exceptions.fromStatusCode(403);
            }
            return super.initiateMultipartUpload(request);
        }

        @Override
        public UploadPartResponse uploadMultipartPart(MultipartUpload upload, UploadPartRequest request, java.io.InputStream in) {
            if (refusing()) {
                throw S3Exceptions.fromStatusCode(403);
            }
            return super.uploadMultipartPart(upload, request, in);
        }

        @Override
        public CompleteMultipartUploadResponse completeMultipartUpload(MultipartUpload upload, CompleteMultipartUploadRequest request) {
            if (refusing()) {
                throw S3Exceptions.fromStatusCode(403);
            }
            return super.completeMultipartUpload(upload, request);
        }
    }
}
