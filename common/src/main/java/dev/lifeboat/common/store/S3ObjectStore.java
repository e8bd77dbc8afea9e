package dev.lifeboat.common.store;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadBucketRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

/**
 * An {@link ObjectStore} in an S3 bucket (AWS or any S3-protocol server). New objects are always multipart
 * uploads: bytes are buffered one part at a time (so memory is one part whatever the object size), the upload
 * is completed on commit with {@code If-None-Match: *} so an existing key is never replaced, and aborted on any
 * failure so no pending upload is left behind.
 */
public final class S3ObjectStore implements ObjectStore {
    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(S3ObjectStore.class);
    /** S3 refuses parts below 5 MiB, except the last. */
    public static final int MIN_PART_SIZE = 5 * 1024 * 1024;

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final int partSize;

    /**
     * @param prefix   prepended to every key, e.g. {@code lifeboat/} ({@code ""} for none)
     * @param partSize multipart part size in bytes, at least {@link #MIN_PART_SIZE}
     */
    public S3ObjectStore(S3Client s3, String bucket, String prefix, int partSize) {
        if (partSize < MIN_PART_SIZE) {
            throw new IllegalArgumentException("S3 part size must be at least 5 MiB; got " + partSize);
        }
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix == null || prefix.isEmpty() || prefix.endsWith("/") ? (prefix == null ? "" : prefix) : prefix + "/";
        this.partSize = partSize;
    }

    private String full(String key) {
        return prefix + ObjectStore.checkKey(key);
    }

    @Override
    public PendingObject create(String key) throws IOException {
        String full = full(key);
        if (stat(key).isPresent()) {
            throw new ObjectExistsException(key);
        }
        return new MultipartPending(key, full);
    }

    @Override
    public InputStream open(String key) throws IOException {
        try {
            return s3.getObject(GetObjectRequest.builder().bucket(bucket).key(full(key)).build());
        } catch (NoSuchKeyException e) {
            throw new ObjectNotFoundException(key);
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                throw new ObjectNotFoundException(key);
            }
            throw io("get " + key, e);
        } catch (SdkException e) {
            throw io("get " + key, e);
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        try {
            HeadObjectResponse head = s3.headObject(HeadObjectRequest.builder().bucket(bucket).key(full(key)).build());
            return Optional.of(new ObjectInfo(key, head.contentLength()));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw io("head " + key, e);
        } catch (SdkException e) {
            throw io("head " + key, e);
        }
    }

    @Override
    public List<ObjectInfo> list(String keyPrefix) throws IOException {
        List<ObjectInfo> out = new ArrayList<>();
        try {
            ListObjectsV2Request request = ListObjectsV2Request.builder().bucket(bucket).prefix(prefix + keyPrefix).build();
            for (S3Object o : s3.listObjectsV2Paginator(request).contents()) {
                out.add(new ObjectInfo(o.key().substring(prefix.length()), o.size()));
            }
        } catch (SdkException e) {
            throw io("list " + keyPrefix, e);
        }
        out.sort((a, b) -> a.key().compareTo(b.key()));
        return out;
    }

    @Override
    public void delete(String key) throws IOException {
        try {
            s3.deleteObject(DeleteObjectRequest.builder().bucket(bucket).key(full(key)).build());
        } catch (SdkException e) {
            throw io("delete " + key, e);
        }
    }

    @Override
    public void checkReachable() throws IOException {
        try {
            s3.headBucket(HeadBucketRequest.builder().bucket(bucket).build());
        } catch (SdkException e) {
            throw io("reach bucket " + bucket, e);
        }
    }

    @Override
    public String locate(String key) {
        return "s3://" + bucket + "/" + full(key);
    }

    @Override
    public List<String> pending(String keyPrefix) throws IOException {
        List<String> out = new ArrayList<>();
        try {
            for (MultipartUpload u : s3.listMultipartUploads(ListMultipartUploadsRequest.builder()
                    .bucket(bucket).prefix(prefix + keyPrefix).build()).uploads()) {
                out.add(u.key().substring(prefix.length()));
            }
        } catch (SdkException e) {
            throw io("list uploads " + keyPrefix, e);
        }
        return out;
    }

    @Override
    public List<String> abortPending(String keyPrefix, java.time.Instant startedBefore) throws IOException {
        List<String> removed = new ArrayList<>();
        try {
            for (MultipartUpload u : s3.listMultipartUploads(ListMultipartUploadsRequest.builder()
                    .bucket(bucket).prefix(prefix + keyPrefix).build()).uploads()) {
                if (u.initiated() != null && u.initiated().isBefore(startedBefore)) {
                    s3.abortMultipartUpload(AbortMultipartUploadRequest.builder()
                            .bucket(bucket).key(u.key()).uploadId(u.uploadId()).build());
                    removed.add(u.key().substring(prefix.length()));
                }
            }
        } catch (SdkException e) {
            throw io("abort stale uploads under " + keyPrefix, e);
        }
        return removed;
    }

    private IOException io(String what, SdkException e) {
        return new IOException("S3 " + what + " in bucket " + bucket + " failed: " + e.getMessage(), e);
    }

    private final class MultipartPending extends PendingObject {
        private final String key;
        private final String full;
        private final byte[] buffer = new byte[partSize];
        private final List<CompletedPart> parts = new ArrayList<>();
        private int filled;
        private String uploadId;
        private boolean done;

        MultipartPending(String key, String full) {
            this.key = key;
            this.full = full;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (done) {
                throw new IOException("Object " + key + " is already committed or aborted");
            }
            while (len > 0) {
                int n = Math.min(len, buffer.length - filled);
                System.arraycopy(b, off, buffer, filled, n);
                filled += n;
                off += n;
                len -= n;
                if (filled == buffer.length) {
                    flushPart();
                }
            }
        }

        private void flushPart() throws IOException {
            try {
                if (uploadId == null) {
                    uploadId = s3.createMultipartUpload(CreateMultipartUploadRequest.builder()
                            .bucket(bucket).key(full).build()).uploadId();
                }
                int number = parts.size() + 1;
                String etag = s3.uploadPart(UploadPartRequest.builder().bucket(bucket).key(full).uploadId(uploadId)
                                .partNumber(number).contentLength((long) filled).build(),
                        RequestBody.fromInputStream(new ByteArrayInputStream(buffer, 0, filled), filled)).eTag();
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
                filled = 0;
            } catch (SdkException e) {
                abort();
                throw io("upload part of " + key, e);
            }
        }

        @Override
        public void commit() throws IOException {
            if (done) {
                throw new IOException("Object " + key + " is already committed or aborted");
            }
            if (filled > 0 || parts.isEmpty()) {
                flushPart();
            }
            try {
                s3.completeMultipartUpload(CompleteMultipartUploadRequest.builder().bucket(bucket).key(full)
                        .uploadId(uploadId).ifNoneMatch("*")
                        .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()).build());
                done = true;
            } catch (S3Exception e) {
                abort();
                if (e.statusCode() == 412 || e.statusCode() == 409) {
                    throw new ObjectExistsException(key);
                }
                throw io("complete upload of " + key, e);
            } catch (SdkException e) {
                abort();
                throw io("complete upload of " + key, e);
            }
        }

        /**
         * Aborts the upload and checks that it is gone, aborting again if not: as the S3 documentation warns, a
         * part upload still in flight can outlive an abort (seen here after a refused part).
         */
        @Override
        public void abort() {
            done = true;
            if (uploadId == null) {
                return;
            }
            for (int attempt = 1; attempt <= 3; attempt++) {
                try {
                    s3.abortMultipartUpload(AbortMultipartUploadRequest.builder()
                            .bucket(bucket).key(full).uploadId(uploadId).build());
                    if (!stillPending()) {
                        uploadId = null;
                        return;
                    }
                } catch (SdkException e) {
                    LOG.debugf("Abort of the multipart upload of %s, attempt %d: %s", key, attempt, e.getMessage());
                }
            }
            // the bucket's abort-incomplete-multipart lifecycle rule is the backstop
            LOG.warnf("Could not abort the multipart upload %s of %s", uploadId, key);
        }

        private boolean stillPending() {
            return s3.listMultipartUploads(ListMultipartUploadsRequest.builder().bucket(bucket).prefix(full).build())
                    .uploads().stream().anyMatch(u -> uploadId.equals(u.uploadId()));
        }

        @Override
        public void close() {
            if (!done) {
                abort();
            }
        }
    }
}
