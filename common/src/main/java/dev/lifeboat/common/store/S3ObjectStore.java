package dev.lifeboat.common.store;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import software.amazon.awssdk.core.ResponseInputStream;
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
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
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
 * uploads: bytes are buffered one part at a time (so memory is one part whatever the object size; parts grow along
 * a {@link PartSchedule} so that no stream needs more than 10,000), the upload is completed on commit with
 * {@code If-None-Match: *} so an existing key is never replaced, and aborted on any failure so no pending upload is
 * left behind.
 *
 * <p>Every SDK failure is classified into a {@link StoreException} ({@link S3Errors}). The SDK's own retries are
 * off (see {@code StoreProducer}); what only this class can repeat is retried here with the shared
 * {@link RetryPolicy}: a part upload (its bytes are still in the buffer), the completion of an upload, and a read
 * that broke midway, resumed with a ranged GET from the byte it reached.
 */
public final class S3ObjectStore implements ObjectStore {
    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(S3ObjectStore.class);
    /** S3 refuses parts below 5 MiB, except the last. */
    public static final int MIN_PART_SIZE = 5 * 1024 * 1024;
    /** User metadata naming the upload that wrote an object, to recognise our own commit after a lost answer. */
    static final String UPLOAD_TOKEN = "lifeboat-upload";
    /** S3's own page size for listings. */
    static final int DEFAULT_PAGE_SIZE = 1000;

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final PartSchedule parts;
    private final RetryPolicy policy;
    private final int pageSize;
    private ArchiveRetrieval archive;
    /** Whether object tags are sent: only when the lifecycle rules that filter on them are managed (see withTags). */
    private boolean tagObjects;

    /**
     * A store without retries of its own (one attempt per request).
     *
     * @param prefix   prepended to every key, e.g. {@code lifeboat/} ({@code ""} for none)
     * @param partSize size of the first multipart parts in bytes, at least {@link #MIN_PART_SIZE}
     */
    public S3ObjectStore(S3Client s3, String bucket, String prefix, int partSize) {
        this(s3, bucket, prefix, partSize, RetryPolicy.none());
    }

    /**
     * @param prefix   prepended to every key, e.g. {@code lifeboat/} ({@code ""} for none)
     * @param partSize size of the first multipart parts in bytes, at least {@link #MIN_PART_SIZE}
     * @param policy   retries of part uploads, commits and broken reads; the one {@link RetryingObjectStore} uses
     */
    public S3ObjectStore(S3Client s3, String bucket, String prefix, int partSize, RetryPolicy policy) {
        this(s3, bucket, prefix, schedule(partSize), policy, DEFAULT_PAGE_SIZE);
    }

    /** With a part schedule and a listing page size of the test's choosing. */
    S3ObjectStore(S3Client s3, String bucket, String prefix, PartSchedule parts, RetryPolicy policy, int pageSize) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix == null || prefix.isEmpty() || prefix.endsWith("/") ? (prefix == null ? "" : prefix) : prefix + "/";
        this.parts = parts;
        this.policy = policy;
        this.pageSize = pageSize;
        this.archive = new S3ArchiveRetrieval(s3, bucket, this.prefix, S3ArchiveRetrieval.Settings.DEFAULT, policy);
    }

    /**
     * This store sending object tags on new objects ({@code x-amz-tagging}, what the lifecycle rules filter on) or
     * not: off by default, because S3-compatible servers without tagging refuse the header (s3proxy: 501).
     */
    public S3ObjectStore withTags(boolean send) {
        this.tagObjects = send;
        return this;
    }

    /** This store with restores of archived objects as {@code settings} say (tier, days). */
    public S3ObjectStore withArchive(S3ArchiveRetrieval.Settings settings) {
        this.archive = new S3ArchiveRetrieval(s3, bucket, prefix, settings, policy);
        return this;
    }

    private static PartSchedule schedule(int partSize) {
        if (partSize < MIN_PART_SIZE || partSize > PartSchedule.MAX_PART_SIZE) {
            throw new IllegalArgumentException("S3 part size must be between 5 MiB and " + PartSchedule.MAX_PART_SIZE
                    + " bytes; got " + partSize);
        }
        return PartSchedule.s3(partSize);
    }

    private String full(String key) {
        return prefix + ObjectStore.checkKey(key);
    }

    private String where(String fullKey) {
        return "s3://" + bucket + "/" + fullKey;
    }

    private StoreException classify(StoreOperation operation, String key, String fullKey, SdkException e) {
        return S3Errors.classify(operation, key, bucket, where(fullKey), e);
    }

    @Override
    public PendingObject create(String key) throws IOException {
        return create(key, Map.of());
    }

    @Override
    public PendingObject create(String key, Map<String, String> tags) throws IOException {
        String full = full(key);
        if (head(StoreOperation.CREATE, key, full).isPresent()) {
            throw new ObjectExistsException(StoreOperation.CREATE, key, null);
        }
        return new MultipartPending(key, full, tagObjects ? tagging(tags) : null);
    }

    /** Tags as the {@code x-amz-tagging} header wants them: URL-encoded query parameters; null for none. */
    static String tagging(Map<String, String> tags) {
        if (tags == null || tags.isEmpty()) {
            return null;
        }
        StringBuilder out = new StringBuilder();
        new java.util.TreeMap<>(tags).forEach((k, v) -> out.append(out.isEmpty() ? "" : "&")
                .append(java.net.URLEncoder.encode(k, java.nio.charset.StandardCharsets.UTF_8)).append('=')
                .append(java.net.URLEncoder.encode(v, java.nio.charset.StandardCharsets.UTF_8)));
        return out.toString();
    }

    @Override
    public Optional<BucketLifecycle> lifecycle() {
        return Optional.of(new BucketLifecycle(s3, bucket, prefix, policy));
    }

    @Override
    public ArchiveRetrieval archive() {
        return archive;
    }

    @Override
    public InputStream open(String key) throws IOException {
        String full = full(key);
        ResponseInputStream<GetObjectResponse> in = get(StoreOperation.OPEN, key, full, -1, null);
        GetObjectResponse response = in.response();
        return new ResumingRead(key, full, in, response.contentLength() == null ? -1 : response.contentLength(),
                response.eTag());
    }

    /** A GET of {@code full}, from byte {@code from} when not -1, only while the object still has {@code eTag} (when given). */
    private ResponseInputStream<GetObjectResponse> get(StoreOperation operation, String key, String full, long from,
                                                       String eTag) throws IOException {
        GetObjectRequest.Builder request = GetObjectRequest.builder().bucket(bucket).key(full);
        if (from >= 0) {
            request.range("bytes=" + from + "-");
        }
        if (eTag != null) {
            request.ifMatch(eTag);
        }
        try {
            return s3.getObject(request.build());
        } catch (NoSuchKeyException e) {
            throw new ObjectNotFoundException(operation, key, "No object at " + key, e);
        } catch (SdkException e) {
            throw classify(operation, key, full, e);
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        return head(StoreOperation.STAT, key, full(key)).map(head -> new ObjectInfo(key, head.contentLength(),
                head.storageClassAsString()));
    }

    private Optional<HeadObjectResponse> head(StoreOperation operation, String key, String full) throws IOException {
        try {
            return Optional.of(s3.headObject(HeadObjectRequest.builder().bucket(bucket).key(full).build()));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw classify(operation, key, full, e);
        } catch (SdkException e) {
            throw classify(operation, key, full, e);
        }
    }

    @Override
    public List<ObjectInfo> list(String keyPrefix) throws IOException {
        List<ObjectInfo> out = new ArrayList<>();
        try {
            ListObjectsV2Request request = ListObjectsV2Request.builder().bucket(bucket).prefix(prefix + keyPrefix)
                    .maxKeys(pageSize).build();
            for (S3Object o : s3.listObjectsV2Paginator(request).contents()) {
                out.add(new ObjectInfo(o.key().substring(prefix.length()), o.size(), o.storageClassAsString()));
            }
        } catch (SdkException e) {
            throw classify(StoreOperation.LIST, keyPrefix, prefix + keyPrefix, e);
        }
        out.sort((a, b) -> a.key().compareTo(b.key()));
        return out;
    }

    @Override
    public void delete(String key) throws IOException {
        String full = full(key);
        try {
            s3.deleteObject(DeleteObjectRequest.builder().bucket(bucket).key(full).build());
        } catch (SdkException e) {
            throw classify(StoreOperation.DELETE, key, full, e);
        }
    }

    @Override
    public void checkReachable() throws IOException {
        try {
            s3.headBucket(HeadBucketRequest.builder().bucket(bucket).build());
        } catch (SdkException e) {
            throw classify(StoreOperation.CHECK_REACHABLE, "", "", e);
        }
    }

    @Override
    public String locate(String key) {
        return where(full(key));
    }

    @Override
    public List<String> pending(String keyPrefix) throws IOException {
        List<String> out = new ArrayList<>();
        for (MultipartUpload u : uploads(StoreOperation.PENDING, keyPrefix, prefix + keyPrefix)) {
            out.add(u.key().substring(prefix.length()));
        }
        return out;
    }

    @Override
    public List<String> abortPending(String keyPrefix, Instant startedBefore) throws IOException {
        List<String> removed = new ArrayList<>();
        // listed completely first: aborting while paging could shift what the next page marker points at
        for (MultipartUpload u : uploads(StoreOperation.ABORT_PENDING, keyPrefix, prefix + keyPrefix)) {
            if (u.initiated() != null && u.initiated().isBefore(startedBefore)) {
                try {
                    s3.abortMultipartUpload(AbortMultipartUploadRequest.builder()
                            .bucket(bucket).key(u.key()).uploadId(u.uploadId()).build());
                } catch (SdkException e) {
                    StoreException failure = classify(StoreOperation.ABORT_PENDING, keyPrefix, u.key(), e);
                    if (!(failure instanceof StoreException.Conflict)) { // Conflict: NoSuchUpload, gone meanwhile
                        throw failure;
                    }
                }
                removed.add(u.key().substring(prefix.length()));
            }
        }
        return removed;
    }

    /** Every unfinished upload under {@code fullPrefix}, page by page (key and upload-id markers). */
    private List<MultipartUpload> uploads(StoreOperation operation, String key, String fullPrefix) throws IOException {
        List<MultipartUpload> out = new ArrayList<>();
        try {
            ListMultipartUploadsRequest request = ListMultipartUploadsRequest.builder().bucket(bucket)
                    .prefix(fullPrefix).maxUploads(pageSize).build();
            for (MultipartUpload u : s3.listMultipartUploadsPaginator(request).uploads()) {
                out.add(u);
            }
        } catch (SdkException e) {
            throw classify(operation, key, fullPrefix, e);
        }
        return out;
    }

    /** A new object being uploaded in parts; the part being filled is the only buffer. */
    private final class MultipartPending extends PendingObject {
        private final String key;
        private final String full;
        /** Written into the upload's metadata; a HEAD that shows it proves the object is this upload's. */
        private final String token = UUID.randomUUID().toString();
        private final List<CompletedPart> completed = new ArrayList<>();
        private byte[] buffer;
        private int filled;
        private long uploaded;
        private String uploadId;
        private boolean done;

        /** The {@code x-amz-tagging} of the upload, or null. */
        private final String tagging;

        MultipartPending(String key, String full, String tagging) {
            this.key = key;
            this.full = full;
            this.tagging = tagging;
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
                if (buffer == null) {
                    buffer = new byte[parts.size(1)];
                } else if (filled == buffer.length) {
                    nextPart(); // only now: a full buffer may turn out to be the last part, sent on commit
                }
                int n = Math.min(len, buffer.length - filled);
                System.arraycopy(b, off, buffer, filled, n);
                filled += n;
                off += n;
                len -= n;
            }
        }

        /** Sends the full buffer as a part and makes room for the next, whose size the schedule says. */
        private void nextPart() throws IOException {
            int next = completed.size() + 2;
            if (next > parts.maxParts()) {
                abort();
                throw new StoreException.Failed(StoreOperation.UPLOAD_PART, key, "S3 object " + where(full)
                        + " is too large: a multipart upload holds at most " + parts.capacity() + " bytes in "
                        + parts.maxParts() + " parts of these sizes; nothing was stored", null);
            }
            flushPart();
            int size = parts.size(next);
            if (size != buffer.length) {
                buffer = new byte[size];
            }
        }

        private void flushPart() throws IOException {
            try {
                if (uploadId == null) {
                    uploadId = policy.call(StoreOperation.START_UPLOAD, this::startUpload);
                }
                int number = completed.size() + 1;
                String eTag = policy.call(StoreOperation.UPLOAD_PART, () -> uploadPart(number));
                completed.add(CompletedPart.builder().partNumber(number).eTag(eTag).build());
                uploaded += filled;
                filled = 0;
            } catch (IOException | RuntimeException e) {
                abort();
                throw e;
            }
        }

        private String startUpload() throws IOException {
            try {
                return s3.createMultipartUpload(CreateMultipartUploadRequest.builder().bucket(bucket).key(full)
                        .metadata(Map.of(UPLOAD_TOKEN, token)).tagging(tagging).build()).uploadId();
            } catch (SdkException e) {
                throw classify(StoreOperation.START_UPLOAD, key, full, e);
            }
        }

        /** One attempt at part {@code number}: the buffer is still held, so every attempt sends the same bytes. */
        private String uploadPart(int number) throws IOException {
            try {
                return s3.uploadPart(UploadPartRequest.builder().bucket(bucket).key(full).uploadId(uploadId)
                                .partNumber(number).contentLength((long) filled).build(),
                        RequestBody.fromInputStream(new ByteArrayInputStream(buffer, 0, filled), filled)).eTag();
            } catch (SdkException e) {
                throw classify(StoreOperation.UPLOAD_PART, key, full, e);
            }
        }

        @Override
        public void commit() throws IOException {
            if (done) {
                throw new IOException("Object " + key + " is already committed or aborted");
            }
            if (filled > 0 || completed.isEmpty()) {
                if (buffer == null) {
                    buffer = new byte[0];
                }
                flushPart();
            }
            try {
                policy.call(StoreOperation.COMMIT, this::completeOnce);
                done = true;
            } catch (StoreException.Transient e) {
                // every attempt failed transiently; one of them may still have completed on the server
                if (committedHere()) {
                    done = true;
                    return;
                }
                abort();
                throw e;
            } catch (IOException | RuntimeException e) {
                abort();
                throw e;
            }
        }

        /**
         * One attempt at completing the upload. A retry after an attempt whose answer was lost finds the upload gone
         * (404 NoSuchUpload) or the key taken (412, the If-None-Match): a HEAD then tells whether the object is
         * ours (committed; the lost answer was a success) or someone else's (taken) or absent (aborted meanwhile).
         */
        private Void completeOnce() throws IOException {
            try {
                s3.completeMultipartUpload(CompleteMultipartUploadRequest.builder().bucket(bucket).key(full)
                        .uploadId(uploadId).ifNoneMatch("*")
                        .multipartUpload(CompletedMultipartUpload.builder().parts(completed).build()).build());
                return null;
            } catch (SdkException e) {
                StoreException failure = classify(StoreOperation.COMMIT, key, full, e);
                if (failure instanceof StoreException.Conflict) {
                    Optional<HeadObjectResponse> head = head(StoreOperation.COMMIT, key, full);
                    if (head.isPresent() && isOurs(head.get())) {
                        LOG.debugf("The commit of %s was answered with a failure after it succeeded", key);
                        return null;
                    }
                    if (head.isPresent() || e instanceof S3Exception s && (s.statusCode() == 412 || s.statusCode() == 409)) {
                        throw new ObjectExistsException(StoreOperation.COMMIT, key, e);
                    }
                }
                throw failure;
            }
        }

        private boolean isOurs(HeadObjectResponse head) {
            return token.equals(head.metadata().get(UPLOAD_TOKEN)) && head.contentLength() == uploaded;
        }

        /** Whether the object at the key is this upload's; false when that cannot be learned. */
        private boolean committedHere() {
            try {
                return head(StoreOperation.COMMIT, key, full).map(this::isOurs).orElse(false);
            } catch (IOException e) {
                return false;
            }
        }

        /**
         * Aborts the upload and checks that it is gone, aborting again if not: as the S3 documentation warns, a
         * part upload still in flight can outlive an abort (seen here after a refused part).
         */
        @Override
        public void abort() {
            done = true;
            buffer = null;
            if (uploadId == null) {
                return;
            }
            for (int attempt = 1; attempt <= 3; attempt++) {
                try {
                    policy.call(StoreOperation.ABORT, () -> {
                        try {
                            s3.abortMultipartUpload(AbortMultipartUploadRequest.builder()
                                    .bucket(bucket).key(full).uploadId(uploadId).build());
                            return null;
                        } catch (SdkException e) {
                            throw classify(StoreOperation.ABORT, key, full, e);
                        }
                    });
                } catch (StoreException.Conflict gone) {
                    // NoSuchUpload: already aborted (or completed); the listing below decides
                } catch (IOException e) {
                    LOG.debugf("Abort of the multipart upload of %s, attempt %d: %s", key, attempt, e.getMessage());
                    continue;
                }
                try {
                    if (!stillPending()) {
                        uploadId = null;
                        return;
                    }
                } catch (IOException e) {
                    LOG.debugf("Listing the uploads of %s after an abort: %s", key, e.getMessage());
                }
            }
            // the bucket's abort-incomplete-multipart lifecycle rule is the backstop
            LOG.warnf("Could not abort the multipart upload %s of %s", uploadId, key);
        }

        private boolean stillPending() throws IOException {
            return policy.call(StoreOperation.PENDING, () -> uploads(StoreOperation.PENDING, key, full))
                    .stream().anyMatch(u -> uploadId.equals(u.uploadId()));
        }

        @Override
        public void close() {
            if (!done) {
                abort();
            }
        }
    }

    /**
     * The body of a GET that survives a broken connection: when a read fails transiently or the body ends before
     * its Content-Length, it is reopened with a ranged GET from the byte reached (and only while the object keeps
     * its ETag), within the {@link RetryPolicy}'s limits. The limits apply to failures in a row: bytes read between
     * two failures start a fresh budget, so a long read may survive several unrelated hiccups.
     */
    private final class ResumingRead extends InputStream {
        private final String key;
        private final String full;
        private final long length;
        private final String eTag;
        private InputStream in;
        private long position;
        private RetryPolicy.Run failures;
        private long positionAtFailure = -1;
        private boolean closed;

        ResumingRead(String key, String full, InputStream in, long length, String eTag) {
            this.key = key;
            this.full = full;
            this.in = in;
            this.length = length;
            this.eTag = eTag;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (closed) {
                throw new IOException("Stream of " + key + " is closed");
            }
            if (len == 0) {
                return 0;
            }
            while (true) {
                Throwable broken;
                try {
                    int n = in.read(b, off, len);
                    if (n >= 0) {
                        position += n;
                        return n;
                    }
                    if (length < 0 || position >= length) {
                        return -1;
                    }
                    broken = new java.io.EOFException("body ended at byte " + position + " of " + length);
                } catch (IOException | UncheckedIOException | SdkException e) {
                    broken = e;
                }
                resume(broken);
            }
        }

        /** Drops the broken body and opens the rest; throws when the failure is not transient or retries are spent. */
        private void resume(Throwable broken) throws IOException {
            if (in instanceof ResponseInputStream<?> response) {
                response.abort(); // a broken body is not drained
            }
            if (failures == null || position > positionAtFailure) {
                failures = policy.start(StoreOperation.RESUME);
                positionAtFailure = position;
            }
            failures.failed(classifyBroken(broken));
            while (true) {
                try {
                    in = length >= 0 && position >= length ? InputStream.nullInputStream() : rest();
                    failures.succeeded();
                    return;
                } catch (IOException e) {
                    failures.failed(e);
                }
            }
        }

        /** A read failure as a store failure: an SDK refusal as S3 said it, anything else as a broken connection. */
        private StoreException classifyBroken(Throwable broken) {
            if (broken instanceof StoreException s) {
                return s;
            }
            IOException io = S3Errors.cause(broken, IOException.class);
            if (broken instanceof SdkException sdk && io == null) {
                return classify(StoreOperation.RESUME, key, full, sdk);
            }
            return S3Errors.connection(StoreOperation.RESUME, key, where(full) + " at byte " + position
                    + (length < 0 ? "" : " of " + length), io == null ? broken : io, broken);
        }

        /** The object from {@code position} on, refused if the server ignored the range (it would repeat bytes). */
        private InputStream rest() throws IOException {
            ResponseInputStream<GetObjectResponse> rest = get(StoreOperation.RESUME, key, full, position, eTag);
            String range = rest.response().contentRange();
            if (range == null || !range.startsWith("bytes " + position + "-")) {
                rest.abort();
                throw new StoreException.Failed(StoreOperation.RESUME, key, "S3 GetObject with Range of " + where(full)
                        + " was answered without the range asked for (Content-Range: " + range + "); cannot resume "
                        + "the read at byte " + position, null);
            }
            return rest;
        }

        @Override
        public void close() throws IOException {
            if (!closed) {
                closed = true;
                in.close();
            }
        }
    }
}
