package dev.lifeboat.common.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.HashMap;
import java.util.Map;

/**
 * Quarkus test resource: the in-process S3 server, configured as Lifeboat's store with 5 MiB parts. With the init
 * argument {@value #FAULT_PROXY}{@code =true} the service reaches it through an {@link S3FaultProxy}, which the test
 * arms through {@link #faultProxy()}.
 */
public class S3Resource implements QuarkusTestResourceLifecycleManager {
    /** Init argument: {@code true} puts an {@link S3FaultProxy} between the service and the server. */
    public static final String FAULT_PROXY = "fault-proxy";
    private static volatile S3FaultProxy current;
    private S3Server server;
    private S3FaultProxy proxy;
    private boolean withProxy;

    @Override
    public void init(Map<String, String> initArgs) {
        withProxy = Boolean.parseBoolean(initArgs.get(FAULT_PROXY));
    }

    @Override
    public Map<String, String> start() {
        server = S3Server.start();
        String endpoint = server.endpoint();
        if (withProxy) {
            proxy = S3FaultProxy.start(endpoint);
            current = proxy;
            endpoint = proxy.endpoint();
        }
        Map<String, String> properties = new HashMap<>(S3Server.storeProperties(endpoint));
        properties.put("lifeboat.store.s3.part-size", Integer.toString(5 * 1024 * 1024));
        // As patient as S3Server#store(): on a loaded 2-core machine the in-process server once failed five UploadParts
        // in a row within 0.9 s ("Error writing request body to server") and answered again after; the default
        // policy's ~1 s window is for a real S3's blips, and no test here counts the default's attempts.
        properties.put("lifeboat.store.retry.max-attempts", "8");
        properties.put("lifeboat.store.retry.max-backoff", "2s");
        return properties;
    }

    /** The fault proxy of the running test class (started with {@value #FAULT_PROXY}{@code =true}). */
    public static S3FaultProxy faultProxy() {
        S3FaultProxy p = current;
        if (p == null) {
            throw new IllegalStateException("No S3 fault proxy: use @WithTestResource(value = S3Resource.class, "
                    + "initArgs = @ResourceArg(name = S3Resource.FAULT_PROXY, value = \"true\"))");
        }
        return p;
    }

    @Override
    public void stop() {
        if (proxy != null) {
            proxy.close();
            if (current == proxy) {
                current = null;
            }
        }
        if (server != null) {
            server.close();
        }
    }
}
