package dev.lifeboat.common.store;

import java.util.Locale;

/**
 * The requests a store makes, as a closed set: the {@code operation} label of the store metrics, and what a
 * {@link StoreException} names so that its message says which request failed and which permission it needs.
 */
public enum StoreOperation {
    /** Checks that a new object's key is free. */
    CREATE("HeadObject", "s3:GetObject and s3:ListBucket"),
    /** Starts the multipart upload of a new object (its first part is due). */
    START_UPLOAD("CreateMultipartUpload", "s3:PutObject"),
    /** Stores one part of a new object. */
    UPLOAD_PART("UploadPart", "s3:PutObject"),
    /** Makes a new object visible. */
    COMMIT("CompleteMultipartUpload", "s3:PutObject"),
    /** Discards an unfinished upload. */
    ABORT("AbortMultipartUpload", "s3:AbortMultipartUpload"),
    /** Opens an object for reading. */
    OPEN("GetObject", "s3:GetObject"),
    /** Continues a read that broke midway, from the byte it reached. */
    RESUME("GetObject with Range", "s3:GetObject"),
    /** Size of an object, or that it is absent. */
    STAT("HeadObject", "s3:GetObject and s3:ListBucket"),
    /** Lists objects under a prefix. */
    LIST("ListObjectsV2", "s3:ListBucket"),
    /** Removes an object. */
    DELETE("DeleteObject", "s3:DeleteObject"),
    /** Readiness: the bucket or folder can be used. */
    CHECK_REACHABLE("HeadBucket", "s3:ListBucket"),
    /** Lists unfinished uploads. */
    PENDING("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    /** Removes unfinished uploads left by a writer that died. */
    ABORT_PENDING("ListMultipartUploads and AbortMultipartUpload", "s3:ListBucketMultipartUploads and s3:AbortMultipartUpload"),
    /** Reads the bucket's lifecycle rules. */
    LIFECYCLE_READ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    /** Writes (or removes) the bucket's lifecycle rules. */
    LIFECYCLE_WRITE("PutBucketLifecycleConfiguration or DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    /** Asks for a temporary copy of an archived object. */
    RESTORE_REQUEST("RestoreObject", "s3:RestoreObject"),
    /** Storage class and restore state of an object. */
    RESTORE_STATUS("HeadObject", "s3:GetObject");

    private final String s3Request;
    private final String s3Permission;

    StoreOperation(String s3Request, String s3Permission) {
        this.s3Request = s3Request;
        this.s3Permission = s3Permission;
    }

    /** The metric label value, e.g. {@code upload_part}. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The S3 API request behind this operation, e.g. {@code UploadPart}. */
    public String s3Request() {
        return s3Request;
    }

    /** The IAM permission the S3 request needs, for access-denied messages. */
    public String s3Permission() {
        return s3Permission;
    }

    /** In words for messages about a folder, e.g. {@code upload part}. */
    public String words() {
        return tag().replace('_', ' ');
    }
}
