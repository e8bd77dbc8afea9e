package dev.lifeboat.backup;

import dev.lifeboat.common.testing.S3Resource;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/** Retention, DELETE and PATCH end to end on a real S3-protocol server. */
@QuarkusTest
@TestProfile(RetentionEndToEnd.Policy.class)
@WithTestResource(S3Resource.class)
@WithTestResource(TokenResource.class)
class RetentionS3Test extends RetentionEndToEnd {
}
