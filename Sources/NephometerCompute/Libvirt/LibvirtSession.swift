import Logging
import NephometerCore

/// Keeps one libvirt connection open: opens it on first use, re-opens it with exponential backoff when it
/// dies, and logs one line when an outage starts and one when it ends (not one per cycle).
public actor LibvirtSession {
    public let uri: String
    private var connection: LibvirtConnection?
    private var failures = 0
    private var retryAt: Double = 0
    private var outageSince: Double?
    private let logger: Logger
    /// Incremented each time a new connection is opened, so caches tied to a connection can reset.
    public private(set) var generation = 0

    public init(uri: String, logger: Logger) {
        self.uri = uri
        self.logger = logger
    }

    /// The open connection, or an error if libvirt is unreachable (without retrying before the backoff ends).
    public func get() async throws -> LibvirtConnection {
        if let c = connection, c.isAlive { return c }
        if connection != nil {
            connection = nil
            noteFailure("connection to \(uri) lost")
        }
        let now = Time.monotonic()
        if now < retryAt {
            throw LibvirtUnavailable(uri: uri, retryIn: retryAt - now)
        }
        do {
            let c = try await LibvirtConnection.open(uri: uri)
            connection = c
            generation += 1
            if let since = outageSince {
                logger.notice("libvirt connection to \(uri) restored after \(Int(now - since)) s")
            }
            outageSince = nil
            failures = 0
            return c
        } catch {
            noteFailure("cannot connect to libvirt at \(uri): \(error)")
            throw error
        }
    }

    /// Tells the session a call failed because the connection is gone; the next `get` re-opens it.
    public func invalidate(after error: any Error) {
        guard let e = error as? LibvirtError, e.isDisconnect else { return }
        connection = nil
        noteFailure("libvirt connection to \(uri) failed: \(e.message)")
    }

    private func noteFailure(_ message: String) {
        let now = Time.monotonic()
        if outageSince == nil {
            outageSince = now
            logger.error("\(message); retrying with backoff")
        }
        failures += 1
        retryAt = now + min(60, 0.5 * Double(1 << min(failures, 7)))
    }

    public func close() { connection = nil }
}

public struct LibvirtUnavailable: Error, CustomStringConvertible {
    public let uri: String
    public let retryIn: Double
    public var description: String { "libvirt at \(uri) unavailable; next attempt in \(Int(retryIn.rounded(.up))) s" }
}

