import Foundation
import Logging
import NephometerCore

/// `udp://host[:port]` (default port 4952; `udp://[::1]:4952` for IPv6): one datagram per sample,
/// the msgpack of Ceilometer's signed meter message, byte-identical to Ceilometer's UDP publisher.
///
/// A batch goes out with one `sendmmsg` call on a non-blocking socket, so publishing never waits on
/// the network. A sample that cannot be encoded (an integer beyond 64 bits) is logged and counted.
public actor UDPPublisher: Publisher {
    public static let defaultPort = 4952

    public nonisolated let displayURL: String
    let host: String
    let port: Int
    let secret: String
    private let encoder: MeterMessageEncoder
    private var socket: UDPSocket?
    private let logger: Logger
    private let once = LogOnce()
    /// Samples that could not be encoded, datagrams the kernel refused.
    public private(set) var unencodable = 0
    public private(set) var sendFailures = 0
    public private(set) var sent = 0

    /// Checks a `udp://` URL: what `validate` and start-up both call.
    public static func parse(_ url: PublisherURL) throws(PublisherURLError) -> (host: String, port: Int) {
        guard !url.host.isEmpty else { throw PublisherURLError("udp publisher needs a host (udp://collector:4952)") }
        if let k = url.query.first?.0 { throw PublisherURLError("udp publisher takes no options, got '\(k.prefix(40))'") }
        return (url.host, url.port ?? Self.defaultPort)
    }

    public init(url: PublisherURL, secret: String, logger: Logger) throws(PublisherURLError) {
        (host, port) = try Self.parse(url)
        self.secret = secret
        encoder = MeterMessageEncoder(secret: secret)
        displayURL = url.redacted
        self.logger = logger
    }

    /// Resolving the host (`getaddrinfo`) blocks: it runs on a thread of its own.
    private static let resolver = BlockingQueue(label: "nephometer.udp.resolve")

    private func openSocket() async -> UDPSocket? {
        if let socket { return socket }
        let host = self.host, port = self.port
        do {
            let s = try await Self.resolver.run { try UDPSocket(host: host, port: port) }
            socket = s
            once.clear("resolve")
            return s
        } catch {
            once.log(logger, .warning, key: "resolve", "udp publisher \(displayURL): \(error); samples are dropped until it resolves")
            return nil
        }
    }

    public func publish(_ samples: [Sample]) async {
        // The socket first: encoding then sending must not be split by a suspension (another batch
        // would reuse the encoder's buffer).
        guard !samples.isEmpty, let socket = await openSocket() else { return }
        encoder.encodeBatch(samples) { s, error in
            unencodable += 1
            logger.warning("Unable to send sample over UDP: \(s.name) of \(s.resourceID) (id \(s.id)): \(error); \(unencodable) sample(s) not encodable so far")
        }
        let count = encoder.ends.count
        guard count > 0 else { return }
        let result = socket.send(encoder.output.bytes, ends: encoder.ends)
        sent += result.sent
        if let error = result.error {
            sendFailures += count - result.sent
            once.log(logger, .warning, key: "send", "udp publisher \(displayURL): \(count - result.sent) datagram(s) not sent: \(error)")
        } else {
            once.clear("send")
        }
    }

    public func flush() async {}
    public func close() async { socket = nil }
}
