import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Why an AMQP operation failed. `channel` errors (a 404 or 406 on a declare) leave the connection
/// usable; the others end it.
struct AMQPError: Error, CustomStringConvertible, Sendable {
    enum Kind: Sendable { case connection, channel(code: UInt16), nack, timeout }
    let kind: Kind
    let description: String
    static func connection(_ s: String) -> AMQPError { AMQPError(kind: .connection, description: s) }
}

/// Splits the byte stream into frames, within `AMQPFrame.maxFrame`.
struct AMQPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = RawAMQPFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let r = buffer.readerIndex
        guard buffer.readableBytes >= 8 else { return .needMoreData }
        guard let type: UInt8 = buffer.getInteger(at: r), let channel: UInt16 = buffer.getInteger(at: r + 1),
              let size: UInt32 = buffer.getInteger(at: r + 3) else { return .needMoreData }
        if type == 0x41 { throw AMQPError.connection("the server does not speak AMQP 0-9-1 (it answered with another protocol header)") }
        guard Int(size) <= AMQPFrame.maxFrame else { throw AMQPError.connection("the server sent a frame of \(size) bytes (the limit is \(AMQPFrame.maxFrame))") }
        guard buffer.readableBytes >= 8 + Int(size) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 7)
        let payload = buffer.readBytes(length: Int(size)) ?? []
        guard buffer.readInteger(as: UInt8.self) == AMQPFrame.end else { throw AMQPError.connection("a frame from the server does not end with 0xCE") }
        context.fireChannelRead(wrapInboundOut(RawAMQPFrame(type: type, channel: channel, payload: payload)))
        return .continue
    }
}

struct RawAMQPFrame {
    let type: UInt8
    let channel: UInt16
    let payload: [UInt8]
}

/// The connection's protocol state, on its event loop: the one outstanding synchronous method, the
/// publisher confirms waiting, heartbeats, and what the broker closed.
final class AMQPHandler: ChannelInboundHandler {
    typealias InboundIn = RawAMQPFrame

    private var context: ChannelHandlerContext?
    private var pending: (expect: Set<AMQPMethodID>, channel: UInt16, promise: EventLoopPromise<AMQPServerMethod>)?
    private var confirms: [UInt64: EventLoopPromise<Void>] = [:]
    private var nextTag: UInt64 = 0
    private(set) var dead: AMQPError?
    /// `dead != nil`, readable from any thread (the connection checks it before each publish).
    let deadFlag = DeadFlag()
    private(set) var blocked: String?
    var heartbeat: Int64 = 0
    /// Told once why the connection ended, unless it was closed on purpose.
    var onDeath: (@Sendable (AMQPError) -> Void)?
    /// True once `close()` ended the connection (not a death to report).
    private(set) var closedByUs = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.type == AMQPFrame.method else { return }   // heartbeats, and returned content we never asked for
        let method: AMQPServerMethod
        do { method = try AMQPServerMethod.decode(frame.payload) } catch {
            fail(.connection("a malformed method frame from the broker: \(error)"), close: true)
            return
        }
        switch method {
        case .close(let code, let text, _, _):
            write(channel: 0, AMQPClientMethod.closeOK)
            fail(.connection("the broker closed the connection: \(code) \(text)"), close: true)
        case .channelClose(let code, let text, let c, let m):
            write(channel: frame.channel, AMQPClientMethod.channelCloseOK)
            let e = AMQPError(kind: .channel(code: code), description: "the broker closed the channel: \(code) \(text) (on method \(c).\(m))")
            if let p = pending, p.channel == frame.channel { pending = nil; p.promise.fail(e) }
            failConfirms(e)
        case .ack(let tag, let multiple): settle(tag, multiple, nil)
        case .nack(let tag, let multiple): settle(tag, multiple, AMQPError(kind: .nack, description: "the broker refused the message (basic.nack)"))
        case .blocked(let reason): blocked = reason
        case .unblocked: blocked = nil
        default:
            if let p = pending, p.channel == frame.channel, p.expect.contains(method.id) {
                pending = nil
                p.promise.succeed(method)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connection("the connection to the broker was lost"), close: false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error as? AMQPError ?? .connection("connection error: \(error)"), close: true)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let idle = event as? IdleStateHandler.IdleStateEvent else { return context.fireUserInboundEventTriggered(event) }
        switch idle {
        case .write: context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: AMQPFrame.heartbeatFrame)), promise: nil)
        case .read: fail(.connection("no data or heartbeat from the broker for \(heartbeat * 2) s"), close: true)
        default: break
        }
    }

    // MARK: operations (called on the event loop)

    /// Sends a method (or, on channel 0 before the handshake, the raw protocol header) and waits for
    /// one of `expect`.
    func call(channel: UInt16, _ payload: [UInt8], raw: Bool = false, expect: Set<AMQPMethodID>, loop: EventLoop) -> EventLoopFuture<AMQPServerMethod> {
        if let dead { return loop.makeFailedFuture(dead) }
        let promise = loop.makePromise(of: AMQPServerMethod.self)
        pending?.promise.fail(AMQPError.connection("a second call overtook the first"))
        pending = (expect, channel, promise)
        if raw { context?.writeAndFlush(NIOAny(ByteBuffer(bytes: payload)), promise: nil) } else { write(channel: channel, payload) }
        return promise.futureResult
    }

    func send(channel: UInt16, _ payload: [UInt8]) { write(channel: channel, payload) }

    /// Confirms restart from 1 after confirm.select on a fresh channel.
    func resetConfirms() { nextTag = 0; confirms = [:] }

    /// Writes one message (method, header and body frames); flushes the socket unless `flush` is false
    /// (a group flushes once, after its last message). The future completes with its confirm.
    func publish(channel: UInt16, exchange: String, routingKey: String, body: [UInt8], frameMax: Int, flush: Bool = true,
                 loop: EventLoop) -> EventLoopFuture<Void> {
        if let dead { return loop.makeFailedFuture(dead) }
        guard let context else { return loop.makeFailedFuture(AMQPError.connection("not connected")) }
        nextTag += 1
        let promise = loop.makePromise(of: Void.self)
        confirms[nextTag] = promise
        var out = context.channel.allocator.buffer(capacity: body.count + 256)
        out.writeBytes(AMQPFrame.frame(type: AMQPFrame.method, channel: channel, payload: AMQPClientMethod.publish(exchange: exchange, routingKey: routingKey)))
        out.writeBytes(AMQPFrame.frame(type: AMQPFrame.header, channel: channel, payload: AMQPClientMethod.contentHeader(bodySize: body.count)))
        let chunk = max(1, frameMax - 8)
        var at = 0
        while at < body.count {
            let n = min(chunk, body.count - at)
            out.writeInteger(AMQPFrame.body); out.writeInteger(channel); out.writeInteger(UInt32(n))
            out.writeBytes(body[at..<at + n]); out.writeInteger(AMQPFrame.end)
            at += n
        }
        if flush { context.writeAndFlush(NIOAny(out), promise: nil) } else { context.write(NIOAny(out), promise: nil) }
        return promise.futureResult
    }

    func flush() { context?.flush() }

    /// A call took too long: the connection's state is unknown, so it ends.
    func timeOut(_ e: AMQPError) { fail(e, close: true) }

    func close() {
        guard dead == nil else { return }
        onDeath = nil
        closedByUs = true
        write(channel: 0, AMQPClientMethod.close())
        fail(.connection("closed"), close: true)
    }

    private func write(channel: UInt16, _ payload: [UInt8]) {
        guard let context else { return }
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: AMQPFrame.frame(type: AMQPFrame.method, channel: channel, payload: payload))), promise: nil)
    }

    private func settle(_ tag: UInt64, _ multiple: Bool, _ error: AMQPError?) {
        let tags = multiple ? confirms.keys.filter { $0 <= tag } : [tag]
        for t in tags {
            guard let p = confirms.removeValue(forKey: t) else { continue }
            if let error { p.fail(error) } else { p.succeed(()) }
        }
    }

    private func failConfirms(_ e: AMQPError) {
        let all = confirms
        confirms = [:]
        for p in all.values { p.fail(e) }
    }

    private func fail(_ e: AMQPError, close: Bool) {
        if dead == nil {
            dead = e
            deadFlag.set()
            onDeath?(e)
            onDeath = nil
        }
        if let p = pending { pending = nil; p.promise.fail(e) }
        failConfirms(e)
        if close { context?.close(promise: nil) }
    }
}

/// One AMQP connection with one channel in confirm mode: what the notifier publishes through. Every
/// call completes or fails within its timeout; a timeout ends the connection (its state is then
/// unknown), and the session opens a new one.
final class AMQPConnection: Sendable {
    let channel: Channel
    private let handler: NIOLoopBound<AMQPHandler>
    let frameMax: Int
    let peer: String

    private let deadFlag: DeadFlag

    private init(channel: Channel, handler: NIOLoopBound<AMQPHandler>, frameMax: Int, peer: String, deadFlag: DeadFlag) {
        self.deadFlag = deadFlag
        self.channel = channel
        self.handler = handler
        self.frameMax = frameMax
        self.peer = peer
    }

    struct Settings: Sendable {
        var heartbeat = 60
        var timeout = 5.0
        var tls: TLSConfiguration?
        var connectionName = "nephometer"
    }

    /// Connects, logs in (PLAIN), opens the vhost and channel 1 in confirm mode.
    static func open(_ h: TransportURL.Host, vhost: String, settings: Settings) async throws(AMQPError) -> AMQPConnection {
        let timeout = TimeAmount.seconds(clamping: settings.timeout)
        let sslContext: NIOSSLContext?
        do { sslContext = try settings.tls.map { try NIOSSLContext(configuration: $0) } } catch {
            throw .connection("cannot set up TLS: \(error)")
        }
        let host = h.host
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    let ops = ch.pipeline.syncOperations
                    if let sslContext {
                        try ops.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host.first?.isNumber == true ? nil : host))
                    }
                    try ops.addHandler(ByteToMessageHandler(AMQPFrameDecoder()))
                    try ops.addHandler(AMQPHandler())
                }
            }
        let peer = "\(h.host):\(h.port)"
        let ch: Channel
        do { ch = try await bootstrap.connect(host: h.host, port: h.port).get() } catch {
            throw .connection("cannot connect to \(peer): \(error)")
        }
        do {
            let (handler, flag) = try await ch.eventLoop.submit {
                let h = try ch.pipeline.syncOperations.handler(type: AMQPHandler.self)
                return (NIOLoopBound(h, eventLoop: ch.eventLoop), h.deadFlag)
            }.get()
            let partial = AMQPConnection(channel: ch, handler: handler, frameMax: 131_072, peer: peer, deadFlag: flag)
            let start = try await partial.call(0, AMQPFrame.protocolHeader, raw: true, expect: [.init(10, 10)], timeout: settings.timeout)
            guard case .start(let mechanisms) = start, mechanisms.split(separator: " ").contains("PLAIN") else {
                throw AMQPError.connection("\(peer) offers no PLAIN login")
            }
            let name = settings.connectionName
            let tune = try await partial.call(0, AMQPClientMethod.startOK(user: h.user, password: h.password, connectionName: name),
                                              expect: [.init(10, 30)], timeout: settings.timeout)
            guard case .tune(let channelMax, let serverFrameMax, let serverHeartbeat) = tune else { throw AMQPError.connection("\(peer): no connection.tune") }
            let frameMax = Int(serverFrameMax == 0 ? 131_072 : min(serverFrameMax, 131_072))
            var beat = settings.heartbeat
            if serverHeartbeat != 0 && beat != 0 { beat = min(beat, Int(serverHeartbeat)) }
            let beatNow = Int64(beat)
            try await ch.eventLoop.submit {
                handler.value.send(channel: 0, AMQPClientMethod.tuneOK(channelMax: channelMax == 0 ? 2047 : channelMax, frameMax: UInt32(frameMax), heartbeat: UInt16(beatNow)))
                handler.value.heartbeat = beatNow
                if beatNow > 0 {
                    try ch.pipeline.syncOperations.addHandler(
                        IdleStateHandler(readTimeout: .seconds(beatNow * 2), writeTimeout: .seconds(max(1, beatNow / 2))), position: .first)
                }
            }.get()
            _ = try await partial.call(0, AMQPClientMethod.open(vhost: vhost), expect: [.init(10, 41)], timeout: settings.timeout)
            let conn = AMQPConnection(channel: ch, handler: handler, frameMax: frameMax, peer: peer, deadFlag: flag)
            try await conn.openChannel(timeout: settings.timeout)
            return conn
        } catch {
            ch.close(promise: nil)
            throw error as? AMQPError ?? .connection("\(peer): \(error)")
        }
    }

    /// (Re)opens channel 1 and puts it in confirm mode.
    func openChannel(timeout: Double) async throws(AMQPError) {
        _ = try await call(1, AMQPClientMethod.channelOpen, expect: [.init(20, 11)], timeout: timeout)
        _ = try await call(1, AMQPClientMethod.confirmSelect, expect: [.init(85, 11)], timeout: timeout)
        let h = handler
        _ = try? await channel.eventLoop.submit { h.value.resetConfirms() }.get()
    }

    func call(_ channelID: UInt16, _ payload: [UInt8], raw: Bool = false, expect: Set<AMQPMethodID>, timeout: Double) async throws(AMQPError) -> AMQPServerMethod {
        try await onLoop(timeout: timeout, what: "waiting for the broker's answer") { h, loop in
            h.call(channel: channelID, payload, raw: raw, expect: expect, loop: loop)
        }
    }

    /// Publishes several messages in order with one hop to the event loop and one flush, and waits for
    /// every confirm (or the timeout, which ends the connection): the result of each, in order.
    func publish(exchange: String, group: [(routingKey: String, body: [UInt8])], timeout: Double) async -> [Result<Void, AMQPError>] {
        let frameMax = frameMax, peer = peer
        let messages = group.map { Message(routingKey: $0.routingKey, body: $0.body) }
        do {
            let results = try await onLoop(timeout: timeout, what: "waiting for the broker's confirms") { h, loop in
                var futures: [EventLoopFuture<Void>] = []
                futures.reserveCapacity(messages.count)
                for m in messages {
                    futures.append(h.publish(channel: 1, exchange: exchange, routingKey: m.routingKey, body: m.body, frameMax: frameMax, flush: false, loop: loop))
                }
                h.flush()
                return EventLoopFuture.whenAllComplete(futures, on: loop)
            }
            return results.map { r in
                r.mapError { $0 as? AMQPError ?? .connection("\(peer): \($0)") }
            }
        } catch {
            return Array(repeating: .failure(error), count: group.count)
        }
    }

    private struct Message: Sendable {
        let routingKey: String
        let body: [UInt8]
    }

    /// True while the connection is usable (no thread hop: a flag the event loop sets).
    var isAlive: Bool { !deadFlag.isSet }

    /// Calls `report` once, on the event loop, when the connection ends other than by `close()`: a
    /// missed heartbeat, the broker closing it, a lost socket, a call past its deadline.
    func onDeath(_ report: @escaping @Sendable (AMQPError) -> Void) async {
        let h = handler
        _ = try? await channel.eventLoop.submit {
            if let dead = h.value.dead { if !h.value.closedByUs { report(dead) } } else { h.value.onDeath = report }
        }.get()
    }

    /// Why the broker blocks publishing (a memory or disk alarm), if it does.
    var blockedReason: String? {
        get async {
            let h = handler
            return (try? await channel.eventLoop.submit { h.value.blocked }.get()) ?? nil
        }
    }

    func close() async {
        let h = handler
        _ = try? await channel.eventLoop.submit { h.value.close() }.get()
        _ = try? await channel.closeFuture.get()
    }

    /// Runs `work` on the event loop (one hop), with its deadline set there too: past `timeout` the
    /// connection ends (its state is then unknown) and the call fails.
    private func onLoop<T: Sendable>(timeout: Double, what: String,
                                     _ work: @escaping @Sendable (AMQPHandler, EventLoop) -> EventLoopFuture<T>) async throws(AMQPError) -> T {
        let h = handler, loop = channel.eventLoop, peer = peer
        let future = loop.flatSubmit {
            let f = work(h.value, loop)
            let timer = loop.scheduleTask(in: .seconds(clamping: timeout)) {
                h.value.timeOut(AMQPError(kind: .timeout, description: "\(peer): no answer within \(timeout) s while \(what)"))
            }
            f.whenComplete { _ in timer.cancel() }
            return f
        }
        do { return try await future.get() } catch let e as AMQPError {
            throw e
        } catch {
            throw .connection("\(peer): \(error)")
        }
    }
}

/// A flag set once, readable from any thread.
final class DeadFlag: Sendable {
    private let value = Synchronization.Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
