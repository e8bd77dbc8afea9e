package dev.lifeboat.backup;

import dev.lifeboat.common.testing.FilesystemStoreResource;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/** Retention, DELETE and PATCH end to end on the filesystem store (the hostPath layout of the first guide). */
@QuarkusTest
@TestProfile(RetentionEndToEnd.Policy.class)
@WithTestResource(FilesystemStoreResource.class)
@WithTestResource(TokenResource.class)
class RetentionFilesystemTest extends RetentionEndToEnd {
}
