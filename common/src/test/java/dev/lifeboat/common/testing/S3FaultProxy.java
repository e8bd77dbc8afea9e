package dev.lifeboat.common.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * An HTTP proxy in front of an S3 server (the in-process {@link S3Server}) that forwards requests byte for byte and
 * can be told to fail chosen ones the way S3 and networks fail: an S3 error answer ({@code 503 SlowDown},
 * {@code 500 InternalError}, {@code 429}, {@code 403 AccessDenied}...) instead of forwarding, or after forwarding
 * (the server did the work, the client never learns it), a connection reset before or after forwarding, or a
 * response body cut off midway (reset or plain close). Requests are matched by their S3 {@link Call} (from method
 * and query), a regular expression on the key, and their ordinal among the matching requests ("the 2nd and 3rd
 * UploadPart"). It counts what it saw and what it did, so tests can assert that the faults really happened.
 *
 * <p>Clients address the proxy as their endpoint (path-style), so SigV4 signs the proxy's {@code host:port}; the
 * request goes upstream unchanged, Host header included, and s3proxy checks the signature against the Host it
 * receives. Binds 127.0.0.1 on a free port; one virtual thread per client connection, a new upstream connection
 * per request.
 */
public final class S3FaultProxy implements AutoCloseable {
    /** The S3 request kinds a rule can match. */
    public enum Call {
        HEAD_BUCKET, LIST_OBJECTS, LIST_UPLOADS, HEAD_OBJECT, GET_OBJECT, PUT_OBJECT, DELETE_OBJECT,
        CREATE_UPLOAD, UPLOAD_PART, COMPLETE_UPLOAD, ABORT_UPLOAD, LIST_PARTS, RESTORE_OBJECT, OTHER
    }

    private enum Kind { RESPOND, RESPOND_AFTER_FORWARDING, RESET, RESET_AFTER_FORWARDING, RESET_MID_BODY, CLOSE_MID_BODY }

    private static final int MAX_HEAD = 64 * 1024;
    private static final Map<Integer, String> REASONS = Map.of(400, "Bad Request", 403, "Forbidden", 404, "Not Found",
            409, "Conflict", 412, "Precondition Failed", 429, "Too Many Requests", 500, "Internal Server Error",
            502, "Bad Gateway", 503, "Service Unavailable", 504, "Gateway Timeout");

    private final ServerSocket server;
    private final String upstreamHost;
    private final int upstreamPort;
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<ArchiveSimulation> archives = new CopyOnWriteArrayList<>();
    private final Map<Call, AtomicInteger> seen = new ConcurrentHashMap<>();
    private final Set<Socket> clients = ConcurrentHashMap.newKeySet();
    private final AtomicInteger faultIds = new AtomicInteger();
    private final Thread acceptor;
    private volatile boolean closed;

    private S3FaultProxy(ServerSocket server, URI upstream) {
        this.server = server;
        this.upstreamHost = upstream.getHost();
        this.upstreamPort = upstream.getPort();
        this.acceptor = Thread.ofPlatform().daemon().name("s3-fault-proxy-" + server.getLocalPort()).start(this::accept);
    }

    /** Starts a proxy forwarding to {@code upstreamEndpoint} ({@code http://host:port}). */
    public static S3FaultProxy start(String upstreamEndpoint) {
        try {
            ServerSocket socket = new ServerSocket();
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return new S3FaultProxy(socket, URI.create(upstreamEndpoint));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The endpoint clients use instead of the server's. */
    public String endpoint() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    /** Starts a rule for requests of kind {@code call}; it takes effect when a fault is chosen on it. */
    public RuleBuilder on(Call call) {
        return new RuleBuilder(call);
    }

    /** Removes every rule and archive simulation; requests pass untouched again. Counts stay. */
    public void clearRules() {
        rules.clear();
        archives.clear();
    }

    /**
     * Simulates AWS's archive storage classes for the keys matching {@code keyRegex}, as if a lifecycle rule had moved
     * them to {@code storageClass} (GLACIER or DEEP_ARCHIVE); see {@link ArchiveSimulation}. The restore "takes"
     * {@code headsInProgress} HEAD requests after the RestoreObject.
     */
    public ArchiveSimulation archive(String keyRegex, String storageClass, int headsInProgress) {
        ArchiveSimulation simulation = new ArchiveSimulation(Pattern.compile(keyRegex), storageClass, headsInProgress);
        archives.add(simulation);
        return simulation;
    }

    /**
     * A SIMULATION of S3's archive behaviour, since no S3 server available to the tests implements it (s3proxy and
     * S3Mock keep every object readable). It follows the AWS documentation:
     * <ul>
     *   <li>GetObject of an object in GLACIER or DEEP_ARCHIVE that has no restored copy answers {@code 403
     *       InvalidObjectState} ("The operation is not valid for the object's storage class"; GetObject, "Errors").</li>
     *   <li>RestoreObject ({@code POST /key?restore} with {@code <RestoreRequest><Days>}) answers {@code 202 Accepted}
     *       when it starts a restore, {@code 409 RestoreAlreadyInProgress} while one runs, {@code 200 OK} when the copy
     *       is already restored (RestoreObject, "Responses").</li>
     *   <li>HeadObject names the class in {@code x-amz-storage-class} and, once a restore was asked for, answers
     *       {@code x-amz-restore: ongoing-request="true"} while it runs and {@code ongoing-request="false",
     *       expiry-date="<RFC 1123 date>"} once the copy can be read (HeadObject, "x-amz-restore").</li>
     *   <li>With a restored copy, GetObject returns the object (here: forwarded to the real server).</li>
     * </ul>
     * The time a restore takes is counted in HEAD requests ({@code headsInProgress}), so tests poll instead of
     * sleeping; {@link #expire()} makes the copy go away as at its expiry date.
     */
    public static final class ArchiveSimulation {
        private final Pattern key;
        private final String storageClass;
        private final int headsInProgress;
        private boolean requested;
        private int headsSinceRequest;
        private int days = 1;
        private final AtomicInteger refusedGets = new AtomicInteger();
        private final AtomicInteger restoreRequests = new AtomicInteger();

        private ArchiveSimulation(Pattern key, String storageClass, int headsInProgress) {
            this.key = key;
            this.storageClass = storageClass;
            this.headsInProgress = headsInProgress;
        }

        /** GETs answered 403 InvalidObjectState. */
        public int refusedGets() {
            return refusedGets.get();
        }

        /** RestoreObject requests received. */
        public int restoreRequests() {
            return restoreRequests.get();
        }

        /** Whether a restored copy can be read now. */
        public synchronized boolean restored() {
            return requested && headsSinceRequest >= headsInProgress;
        }

        /** A requested restore finishes now, whatever its HEAD count: for tests that watch the waiting state first. */
        public synchronized void complete() {
            if (requested) {
                headsSinceRequest = Math.max(headsSinceRequest, headsInProgress);
            }
        }

        /** Whether a restore was asked for and has not expired. */
        public synchronized boolean requested() {
            return requested;
        }

        /** The restored copy goes away, as at its expiry date: archived again. */
        public synchronized void expire() {
            requested = false;
            headsSinceRequest = 0;
        }

        private boolean matches(Request r) {
            return key.matcher(r.key).find();
        }

        /** The answer to a RestoreObject: 202, 409 while running, 200 when already restored. */
        private synchronized int restore(byte[] raw) {
            restoreRequests.incrementAndGet();
            if (restored()) {
                return 200;
            }
            if (requested) {
                return 409;
            }
            java.util.regex.Matcher m = Pattern.compile("<Days>(\\d+)</Days>").matcher(
                    new String(raw, StandardCharsets.ISO_8859_1));
            days = m.find() ? Integer.parseInt(m.group(1)) : 1;
            requested = true;
            return 202;
        }

        /** The headers a HEAD gains; one more HEAD of a running restore. */
        private synchronized String headHeaders() {
            String headers = "x-amz-storage-class: " + storageClass + "\r\n";
            if (!requested) {
                return headers;
            }
            if (headsSinceRequest < headsInProgress) {
                headsSinceRequest++;
                return headers + "x-amz-restore: ongoing-request=\"true\"\r\n";
            }
            String expiry = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(
                    java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).plusDays(days).withHour(0).withMinute(0)
                            .withSecond(0).withNano(0));
            return headers + "x-amz-restore: ongoing-request=\"false\", expiry-date=\"" + expiry + "\"\r\n";
        }
    }

    private ArchiveSimulation archiveOf(Request request) {
        for (ArchiveSimulation a : archives) {
            if (a.matches(request)) {
                return a;
            }
        }
        return null;
    }

    /** How many requests of kind {@code call} came through since the start or the last {@link #resetCounts()}. */
    public int requests(Call call) {
        AtomicInteger n = seen.get(call);
        return n == null ? 0 : n.get();
    }

    /** Sets the request counts back to zero. */
    public void resetCounts() {
        seen.clear();
    }

    /** Which requests a rule acts on, before its fault is chosen. */
    public final class RuleBuilder {
        private final Call call;
        private Pattern key;
        private int skip;
        private int times = 1;

        private RuleBuilder(Call call) {
            this.call = call;
        }

        /** Only requests whose key (without the bucket) contains a match of {@code regex}. */
        public RuleBuilder key(String regex) {
            this.key = Pattern.compile(regex);
            return this;
        }

        /** Let the first {@code n} matching requests through: the rule acts from the {@code n+1}-th on. */
        public RuleBuilder skip(int n) {
            this.skip = n;
            return this;
        }

        /** Act on {@code n} matching requests (default 1). */
        public RuleBuilder times(int n) {
            this.times = n;
            return this;
        }

        /** Act on every matching request (after the skipped ones). */
        public RuleBuilder always() {
            return times(Integer.MAX_VALUE);
        }

        /** Answer {@code status} with an S3 error body of {@code code}, without forwarding. */
        public Rule respond(int status, String code) {
            return add(Kind.RESPOND, status, code, 0);
        }

        /** Forward, let the server do the work, then answer {@code status}/{@code code} instead of its answer. */
        public Rule respondAfterForwarding(int status, String code) {
            return add(Kind.RESPOND_AFTER_FORWARDING, status, code, 0);
        }

        /** Reset the client's connection without forwarding. */
        public Rule reset() {
            return add(Kind.RESET, 0, null, 0);
        }

        /** Forward, let the server do the work, then reset the client's connection instead of answering. */
        public Rule resetAfterForwarding() {
            return add(Kind.RESET_AFTER_FORWARDING, 0, null, 0);
        }

        /** Forward, pass the answer's head and its first {@code bytes} body bytes, then reset the connection. */
        public Rule resetMidBody(long bytes) {
            return add(Kind.RESET_MID_BODY, 0, null, bytes);
        }

        /** Forward, pass the answer's head and its first {@code bytes} body bytes, then close the connection. */
        public Rule closeMidBody(long bytes) {
            return add(Kind.CLOSE_MID_BODY, 0, null, bytes);
        }

        private Rule add(Kind kind, int status, String code, long bytes) {
            Rule rule = new Rule(call, key, skip, times, kind, status, code, bytes);
            rules.add(rule);
            return rule;
        }
    }

    /** An active rule; {@link #fired()} says how often it acted. */
    public static final class Rule {
        private final Call call;
        private final Pattern key;
        private final int skip;
        private final int times;
        private final Kind kind;
        private final int status;
        private final String code;
        private final long bytes;
        private final AtomicInteger matched = new AtomicInteger();
        private final AtomicInteger fired = new AtomicInteger();

        private Rule(Call call, Pattern key, int skip, int times, Kind kind, int status, String code, long bytes) {
            this.call = call;
            this.key = key;
            this.skip = skip;
            this.times = times;
            this.kind = kind;
            this.status = status;
            this.code = code;
            this.bytes = bytes;
        }

        /** How many requests this rule failed. */
        public int fired() {
            return fired.get();
        }

        /** How many requests matched its call and key (acted on or not). */
        public int matched() {
            return matched.get();
        }

        private boolean matches(Request r) {
            return r.call == call && (key == null || key.matcher(r.key).find());
        }

        @Override
        public String toString() {
            return kind + " " + call + (key == null ? "" : " key~" + key) + " skip " + skip + " fired " + fired;
        }
    }

    /** Every rule counts a matching request; the first whose window holds the request's ordinal acts on it. */
    private synchronized Rule decide(Request request) {
        seen.computeIfAbsent(request.call, c -> new AtomicInteger()).incrementAndGet();
        Rule chosen = null;
        for (Rule rule : rules) {
            if (rule.matches(request)) {
                int ordinal = rule.matched.incrementAndGet();
                if (chosen == null && ordinal > rule.skip && rule.fired.get() < rule.times) {
                    rule.fired.incrementAndGet();
                    chosen = rule;
                }
            }
        }
        return chosen;
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = server.accept();
                clients.add(client);
                Thread.ofVirtual().name("s3-fault-proxy-connection").start(() -> serve(client));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("S3FaultProxy: accept failed: " + e);
                }
            }
        }
    }

    private void serve(Socket client) {
        try (client) {
            InputStream in = new BufferedInputStream(client.getInputStream());
            OutputStream out = client.getOutputStream();
            while (!closed) {
                Request request = Request.read(in, out);
                if (request == null) {
                    return;
                }
                Rule rule = decide(request);
                Kind kind = rule == null ? null : rule.kind;
                if (kind == Kind.RESPOND) {
                    writeError(out, request, rule);
                    continue;
                }
                ArchiveSimulation archived = kind == null ? archiveOf(request) : null;
                String extraHeaders = null;
                if (archived != null) {
                    if (request.call == Call.RESTORE_OBJECT) {
                        int status = archived.restore(request.raw);
                        if (status == 409) {
                            writeError(out, request, 409, "RestoreAlreadyInProgress");
                        } else {
                            out.write(("HTTP/1.1 " + status + (status == 202 ? " Accepted" : " OK")
                                    + "\r\nContent-Length: 0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                            out.flush();
                        }
                        continue;
                    }
                    if (request.call == Call.GET_OBJECT && !archived.restored()) {
                        archived.refusedGets.incrementAndGet();
                        writeError(out, request, 403, "InvalidObjectState");
                        continue;
                    }
                    if (request.call == Call.HEAD_OBJECT) {
                        extraHeaders = archived.headHeaders();
                    }
                }
                if (kind == Kind.RESET) {
                    reset(client);
                    return;
                }
                if (!forward(request, rule, client, out, extraHeaders) || request.close) {
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away, or was reset on purpose
        } finally {
            clients.remove(client);
        }
    }

    /** Sends {@code request} upstream and relays (or fails) the answer; false when the client connection is done. */
    private boolean forward(Request request, Rule rule, Socket client, OutputStream out, String extraHeaders)
            throws IOException {
        Kind kind = rule == null ? null : rule.kind;
        try (Socket upstream = new Socket(upstreamHost, upstreamPort)) {
            OutputStream up = upstream.getOutputStream();
            up.write(request.raw);
            up.flush();
            InputStream down = new BufferedInputStream(upstream.getInputStream());
            Response response = Response.read(down, request.method);
            if (kind == Kind.RESPOND_AFTER_FORWARDING || kind == Kind.RESET_AFTER_FORWARDING) {
                response.body(down, OutputStream.nullOutputStream(), Long.MAX_VALUE); // the server finished its work
                if (kind == Kind.RESET_AFTER_FORWARDING) {
                    reset(client);
                    return false;
                }
                writeError(out, request, rule);
                return true;
            }
            out.write(extraHeaders == null ? response.head : withHeaders(response.head, extraHeaders));
            if (kind == Kind.RESET_MID_BODY || kind == Kind.CLOSE_MID_BODY) {
                response.body(down, out, rule.bytes);
                out.flush();
                if (kind == Kind.RESET_MID_BODY) {
                    reset(client);
                } else {
                    client.shutdownOutput();
                }
                return false;
            }
            response.body(down, out, Long.MAX_VALUE);
            out.flush();
            return !response.close;
        }
    }

    /** A response head with {@code extra} header lines added, and any storage class upstream gave removed. */
    private static byte[] withHeaders(byte[] head, String extra) {
        String text = new String(head, StandardCharsets.ISO_8859_1);
        text = text.replaceAll("(?im)^x-amz-storage-class:[^\r\n]*\r\n", "");
        text = text.substring(0, text.length() - 2) + extra + "\r\n";
        return text.getBytes(StandardCharsets.ISO_8859_1);
    }

    private void writeError(OutputStream out, Request request, Rule rule) throws IOException {
        writeError(out, request, rule.status, rule.code);
    }

    private void writeError(OutputStream out, Request request, int status, String code) throws IOException {
        String id = "lifeboat-fault-" + faultIds.incrementAndGet();
        byte[] body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>"
                + "Injected by S3FaultProxy</Message><Resource>" + request.path + "</Resource><RequestId>" + id
                + "</RequestId></Error>").getBytes(StandardCharsets.UTF_8);
        boolean head = request.method.equals("HEAD");
        String reason = REASONS.getOrDefault(status, "Error");
        out.write(("HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/xml\r\nx-amz-request-id: " + id
                + "\r\nContent-Length: " + (head ? 0 : body.length) + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        if (!head) {
            out.write(body);
        }
        out.flush();
    }

    /** An abortive close: the client reads "connection reset", not a clean end. */
    private static void reset(Socket client) throws IOException {
        client.setSoLinger(true, 0);
        client.close();
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // test teardown
        }
        for (Socket client : clients) {
            try {
                client.close();
            } catch (IOException ignored) {
                // test teardown
            }
        }
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A request read whole from the client: its raw bytes, for forwarding, and what rules match on. */
    private record Request(byte[] raw, String method, String path, String key, Call call, boolean close) {

        /** The next request on the connection, or null when the client closed it. */
        static Request read(InputStream in, OutputStream out) throws IOException {
            ByteArrayOutputStream raw = new ByteArrayOutputStream();
            String requestLine = line(in, raw, true);
            if (requestLine == null) {
                return null;
            }
            Map<String, String> headers = headers(in, raw);
            String[] parts = requestLine.split(" ");
            if (parts.length < 3) {
                throw new IOException("Bad request line: " + requestLine);
            }
            if ("100-continue".equalsIgnoreCase(headers.get("expect"))) {
                // answered here, so the body arrives before the rule decides; upstream's own 100 is skipped
                out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
            body(in, raw, headers, Long.MAX_VALUE, false);
            URI target = URI.create(parts[1]);
            String path = target.getPath();
            String[] segments = path.substring(1).split("/", 2);
            String key = segments.length > 1 ? segments[1] : "";
            Set<String> query = new HashSet<>();
            if (target.getRawQuery() != null) {
                for (String p : target.getRawQuery().split("&")) {
                    query.add(p.split("=", 2)[0]);
                }
            }
            return new Request(raw.toByteArray(), parts[0], path, key, call(parts[0], key, query),
                    "close".equalsIgnoreCase(headers.get("connection")));
        }

        static Call call(String method, String key, Set<String> query) {
            boolean bucket = key.isEmpty();
            return switch (method) {
                case "HEAD" -> bucket ? Call.HEAD_BUCKET : Call.HEAD_OBJECT;
                case "GET" -> bucket ? (query.contains("uploads") ? Call.LIST_UPLOADS : Call.LIST_OBJECTS)
                        : query.contains("uploadId") ? Call.LIST_PARTS : Call.GET_OBJECT;
                case "PUT" -> bucket ? Call.OTHER : query.contains("partNumber") ? Call.UPLOAD_PART : Call.PUT_OBJECT;
                case "POST" -> bucket ? Call.OTHER : query.contains("uploads") ? Call.CREATE_UPLOAD
                        : query.contains("uploadId") ? Call.COMPLETE_UPLOAD
                        : query.contains("restore") ? Call.RESTORE_OBJECT : Call.OTHER;
                case "DELETE" -> bucket ? Call.OTHER : query.contains("uploadId") ? Call.ABORT_UPLOAD : Call.DELETE_OBJECT;
                default -> Call.OTHER;
            };
        }
    }

    /** A response head read from upstream, and how its body is framed. */
    private record Response(byte[] head, long length, boolean chunked, boolean close) {

        static Response read(InputStream in, String method) throws IOException {
            while (true) {
                ByteArrayOutputStream raw = new ByteArrayOutputStream();
                String statusLine = line(in, raw, false);
                Map<String, String> headers = headers(in, raw);
                int status = Integer.parseInt(statusLine.split(" ")[1]);
                if (status >= 100 && status < 200) {
                    continue; // interim answer to Expect: 100-continue, already given to the client
                }
                boolean chunked = "chunked".equalsIgnoreCase(headers.get("transfer-encoding"));
                boolean noBody = method.equals("HEAD") || status == 204 || status == 304;
                long length = noBody ? 0 : chunked ? -1
                        : headers.containsKey("content-length") ? Long.parseLong(headers.get("content-length").trim()) : -2;
                boolean close = length == -2 || "close".equalsIgnoreCase(headers.get("connection"));
                return new Response(raw.toByteArray(), length, chunked, close);
            }
        }

        /** Copies the body to {@code out}, at most {@code limit} bytes of it (as framed on the wire). */
        void body(InputStream in, OutputStream out, long limit) throws IOException {
            if (chunked) {
                Map<String, String> te = Map.of("transfer-encoding", "chunked");
                S3FaultProxy.body(in, out, te, limit, true);
            } else if (length >= 0) {
                S3FaultProxy.body(in, out, Map.of("content-length", Long.toString(length)), limit, true);
            } else {
                copy(in, out, Long.MAX_VALUE, limit, true);
            }
        }
    }

    /** A CRLF-terminated line, also appended to {@code raw}; null at a clean end of stream when {@code eofOk}. */
    private static String line(InputStream in, ByteArrayOutputStream raw, boolean eofOk) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int previous = -1;
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (eofOk && line.size() == 0) {
                    return null;
                }
                throw new EOFException("Connection closed in the middle of an HTTP head");
            }
            raw.write(b);
            if (raw.size() > MAX_HEAD) {
                throw new IOException("HTTP head too long");
            }
            if (previous == '\r' && b == '\n') {
                byte[] bytes = line.toByteArray();
                return new String(bytes, 0, bytes.length - 1, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
            previous = b;
        }
    }

    /** Header lines up to the empty one, lower-case names; appended to {@code raw}. */
    private static Map<String, String> headers(InputStream in, ByteArrayOutputStream raw) throws IOException {
        Map<String, String> headers = new TreeMap<>();
        for (String line; !(line = line(in, raw, false)).isEmpty(); ) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                headers.putIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
        }
        return headers;
    }

    /** Copies a message body framed by {@code headers} (Content-Length or chunked) to {@code out}, at most {@code limit} bytes. */
    private static void body(InputStream in, OutputStream out, Map<String, String> headers, long limit, boolean flush)
            throws IOException {
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            long left = limit;
            while (left > 0) {
                ByteArrayOutputStream framing = new ByteArrayOutputStream();
                String sizeLine = line(in, framing, false);
                long size = Long.parseLong(sizeLine.split(";")[0].trim(), 16);
                left -= write(out, framing.toByteArray(), left);
                if (size == 0) {
                    ByteArrayOutputStream trailer = new ByteArrayOutputStream();
                    while (!line(in, trailer, false).isEmpty()) {
                        // trailers pass through as they are
                    }
                    write(out, trailer.toByteArray(), left);
                    return;
                }
                left -= copy(in, out, size, left, flush);
                ByteArrayOutputStream crlf = new ByteArrayOutputStream();
                line(in, crlf, false);
                left -= write(out, crlf.toByteArray(), left);
            }
        } else if (headers.containsKey("content-length")) {
            copy(in, out, Long.parseLong(headers.get("content-length").trim()), limit, flush);
        }
    }

    /** Writes at most {@code limit} of {@code bytes}; returns how many. */
    private static int write(OutputStream out, byte[] bytes, long limit) throws IOException {
        int n = (int) Math.min(bytes.length, Math.max(0, limit));
        out.write(bytes, 0, n);
        return n;
    }

    /**
     * Reads {@code length} bytes (or up to the end when {@link Long#MAX_VALUE}) and writes the first {@code limit} of
     * them; returns how many were written. Stops reading at the limit: the rest is never wanted.
     */
    private static long copy(InputStream in, OutputStream out, long length, long limit, boolean flush) throws IOException {
        byte[] buffer = new byte[64 * 1024];
        long read = 0;
        long written = 0;
        while (read < length && written < limit) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, length - read));
            if (n < 0) {
                if (length == Long.MAX_VALUE) {
                    break;
                }
                throw new EOFException("Body ended after " + read + " of " + length + " bytes");
            }
            read += n;
            int keep = (int) Math.min(n, limit - written);
            out.write(buffer, 0, keep);
            written += keep;
        }
        if (flush) {
            out.flush();
        }
        return written;
    }
}
