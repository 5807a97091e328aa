import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NephometerPublishers
import Synchronization

/// Receives UDP datagrams for a collector.
public enum UDPListener {
    /// Binds and serves until cancelled. `ready` is called with the bound port.
    public static func run(host: String, port: Int, collector: SampleCollector,
                           ready: @Sendable (Int) -> Void) async throws {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        ready(channel.channel.localAddress?.port ?? port)
        try await channel.executeThenClose { inbound, _ in
            for try await envelope in inbound {
                var data = envelope.data
                let bytes = data.readBytes(length: data.readableBytes) ?? []
                await collector.datagram(bytes, from: "\(envelope.remoteAddress)")
            }
        }
    }
}

/// Receives HTTP POSTs of JSON sample lists for a collector.
///
/// Bounded whatever clients do: a body may be at most `maxBody` bytes, all bodies being read together at
/// most `memoryBudget` (a request beyond it gets 503 and its connection is closed), at most
/// `maxConnections` connections are served at once (more are closed at once), and a connection idle for
/// `idleTimeout` seconds is closed.
public enum HTTPListener {
    public static let maxBody = 64 << 20
    public static let memoryBudget = 256 << 20
    public static let maxConnections = 256
    public static let defaultIdleTimeout: Int64 = 30

    /// Bytes of request bodies held by all connections, and open connections.
    static let held = ManagedCounter()
    static let connections = ManagedCounter()

    public static func run(host: String, port: Int, collector: SampleCollector, idleTimeout: Int64 = defaultIdleTimeout,
                           ready: @Sendable (Int) -> Void) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(idleTimeout)))
                    try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        ready(server.channel.localAddress?.port ?? port)
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    guard Self.connections.add(1) <= maxConnections else {
                        _ = Self.connections.add(-1)
                        try? await connection.channel.close()
                        continue
                    }
                    group.addTask {
                        await serve(connection, collector: collector)
                        _ = Self.connections.add(-1)
                    }
                }
            }
        }
    }

    static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, collector: SampleCollector) async {
        let peer = "\(connection.channel.remoteAddress.map { "\($0)" } ?? "?")"
        var reserved = 0
        defer { _ = held.add(-reserved) }
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            var tooLarge = false
            var overBudget = false
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body.clear()
                    tooLarge = false
                case .body(var chunk):
                    if body.readableBytes + chunk.readableBytes > maxBody {
                        tooLarge = true
                    } else if overBudget || held.add(chunk.readableBytes) > memoryBudget {
                        if !overBudget {
                            // Give back what this request holds at once, so the others can finish.
                            _ = held.add(-chunk.readableBytes - reserved)
                            reserved = 0
                            body = ByteBuffer()
                        }
                        overBudget = true
                    } else {
                        reserved += chunk.readableBytes
                        body.writeBuffer(&chunk)
                    }
                case .end:
                    guard let h = head else { continue }
                    let (status, text): (HTTPResponseStatus, String)
                    if overBudget {
                        (status, text) = (.serviceUnavailable, "the receiver is holding \(memoryBudget >> 20) MiB of request bodies; retry later")
                    } else if tooLarge {
                        (status, text) = (.payloadTooLarge, "body larger than \(maxBody) bytes")
                    } else if h.method != .POST {
                        (status, text) = (.methodNotAllowed, "POST JSON sample lists here")
                    } else {
                        let bytes = body.readBytes(length: body.readableBytes) ?? []
                        switch await collector.httpBody(bytes, signature: h.headers.first(name: HTTPSignature.headerName), from: peer) {
                        case .ok(let n): (status, text) = (.ok, "{\"accepted\": \(n)}")
                        case .badRequest(let why): (status, text) = (.badRequest, why)
                        case .forbidden(let why): (status, text) = (.forbidden, why)
                        }
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: status == .ok ? "application/json" : "text/plain")
                    headers.add(name: "Content-Length", value: "\(text.utf8.count)")
                    let keepAlive = h.isKeepAlive && !overBudget
                    if !keepAlive { headers.add(name: "Connection", value: "close") }
                    try await outbound.write(.head(HTTPResponseHead(version: h.version, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: text))))
                    try await outbound.write(.end(nil))
                    body = ByteBuffer()
                    _ = held.add(-reserved)
                    reserved = 0
                    if !keepAlive { return }
                }
            }
        }
    }
}

/// Closes a connection when `IdleStateHandler` reports it idle.
final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// A shared counter (bytes held, connections open).
final class ManagedCounter: Sendable {
    private let value = Atomic<Int>(0)
    /// Adds `n`; returns the new value.
    func add(_ n: Int) -> Int { value.add(n, ordering: .relaxed).newValue }
}
