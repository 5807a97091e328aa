import Foundation
import Logging
import NIOCore
import NIOSSL
import NephometerCore

/// The notifier's link to RabbitMQ: one connection at a time, failing over across the transport URL's
/// hosts in order; the exchange and each routing key's queue declared once per channel exactly as
/// oslo.messaging declares them, so consumers and oslo publishers on the same broker agree with us.
actor AMQPSession {
    let url: TransportURL
    let settings: MessagingSettings
    let connection: AMQPConnection.Settings
    let logger: Logger
    private var current: AMQPConnection?
    private var hostIndex = 0
    private var exchangeDeclared = false
    private var exchangeDurable: Bool
    private var queues: Set<String> = []
    private let once = LogOnce()

    init(url: TransportURL, settings: MessagingSettings, tls: TLSConfiguration?, logger: Logger) {
        self.url = url
        self.settings = settings
        self.logger = logger
        exchangeDurable = settings.durable
        var c = AMQPConnection.Settings()
        c.heartbeat = settings.heartbeat
        c.timeout = settings.timeout
        c.tls = tls
        c.connectionName = "nephometer:\(getpid()):\(settings.exchange)"
        connection = c
    }

    /// Publishes messages in order, several awaiting their confirms at once; the result of each, in
    /// order. Fewer results than messages: the rest were not attempted (no connection, a declaration
    /// failed).
    func publish(group: [(routingKey: String, body: [UInt8])]) async -> [Result<Void, AMQPError>] {
        let c: AMQPConnection
        do {
            c = try await connected()
            var declared: Set<String> = []
            for m in group where declared.insert(m.routingKey).inserted { try await declare(m.routingKey, on: c) }
        } catch {
            if let c = current { await forget(c, after: error) }
            return [.failure(error)]
        }
        let results = await c.publish(exchange: settings.exchange, group: group, timeout: settings.timeout)
        for r in results {
            if case .failure(let e) = r {
                await forget(c, after: e)
                break
            }
        }
        return results
    }

    /// True when a broker accepts a login now (the connection is kept for the next publish).
    func probe() async -> Bool { (try? await connected()) != nil }

    func shutdown() async {
        if let c = current { await c.close() }
        current = nil
    }

    private func connected() async throws(AMQPError) -> AMQPConnection {
        if let c = current, c.isAlive { return c }
        current = nil
        exchangeDeclared = false
        queues = []
        var problems: [String] = []
        for k in 0..<url.hosts.count {
            let i = (hostIndex + k) % url.hosts.count
            do {
                let c = try await AMQPConnection.open(url.hosts[i], vhost: url.virtualHost, settings: connection)
                if k > 0 { logger.notice("connected to RabbitMQ at \(c.peer) (failed over from \(url.hosts[hostIndex].host):\(url.hosts[hostIndex].port))") }
                hostIndex = i
                current = c
                let logger = logger, peer = c.peer
                await c.onDeath { why in logger.notice("the connection to RabbitMQ at \(peer) ended: \(why); reconnecting at the next publish") }
                return c
            } catch {
                problems.append(error.description)
            }
        }
        hostIndex = (hostIndex + 1) % url.hosts.count
        throw .connection(problems.count == 1 ? problems[0] : "no RabbitMQ host answers: " + problems.joined(separator: "; "))
    }

    private func forget(_ c: AMQPConnection, after error: AMQPError) async {
        switch error.kind {
        case .channel, .nack:
            // The channel is gone (or a confirm failed): reopen it; declarations start over.
            exchangeDeclared = false
            queues = []
            if case .channel = error.kind {
                do { try await c.openChannel(timeout: settings.timeout) } catch { await drop(c) }
            }
        case .connection, .timeout:
            await drop(c)
        }
    }

    private func drop(_ c: AMQPConnection) async {
        await c.close()
        if current === c { current = nil }
    }

    /// oslo's declarations: the topic exchange (falling back to a non-durable one on 406, as oslo does,
    /// then to a passive declare), and a queue named after the routing key bound to it (passive on
    /// 406: the queue exists with other arguments and still receives what we publish).
    private func declare(_ routingKey: String, on c: AMQPConnection) async throws(AMQPError) {
        let t = settings.timeout
        if !exchangeDeclared {
            do {
                _ = try await c.call(1, AMQPClientMethod.exchangeDeclare(settings.exchange, durable: exchangeDurable, autoDelete: settings.autoDelete),
                                     expect: [.init(40, 11)], timeout: t)
            } catch where error.isPrecondition {
                once.log(logger, .warning, key: "exchange \(settings.exchange)", "exchange '\(settings.exchange)' exists with other settings (\(error)); using it as it is")
                try await c.openChannel(timeout: t)
                _ = try await c.call(1, AMQPClientMethod.exchangeDeclare(settings.exchange, passive: true, durable: false, autoDelete: false),
                                     expect: [.init(40, 11)], timeout: t)
            }
            exchangeDeclared = true
        }
        guard !queues.contains(routingKey) else { return }
        var args: [(String, AMQPField)] = []
        if settings.quorumQueues {
            args.append(("x-queue-type", .string("quorum")))
            if settings.quorumDeliveryLimit > 0 { args.append(("x-delivery-limit", .int(Int32(clamping: settings.quorumDeliveryLimit)))) }
        } else if settings.haQueues {
            args.append(("x-ha-policy", .string("all")))
        }
        do {
            _ = try await c.call(1, AMQPClientMethod.queueDeclare(routingKey, durable: exchangeDurable, autoDelete: settings.autoDelete, arguments: args),
                                 expect: [.init(50, 11)], timeout: t)
        } catch where error.isPrecondition {
            once.log(logger, .warning, key: "queue \(routingKey)", "queue '\(routingKey)' exists with other settings (\(error)); publishing to it as it is — set amqp_durable_queues / rabbit_quorum_queue as the cloud's oslo.messaging does")
            try await c.openChannel(timeout: t)
            _ = try await c.call(1, AMQPClientMethod.queueDeclare(routingKey, passive: true, durable: false, autoDelete: false, arguments: []),
                                 expect: [.init(50, 11)], timeout: t)
        }
        _ = try await c.call(1, AMQPClientMethod.queueBind(queue: routingKey, exchange: settings.exchange, routingKey: routingKey),
                             expect: [.init(50, 21)], timeout: t)
        queues.insert(routingKey)
    }
}

extension AMQPError {
    var isPrecondition: Bool {
        if case .channel(let code) = kind { return code == 406 }
        return false
    }
}
