import Logging
import NephometerCore

/// Keeps one libvirt connection open: opens it on first use, re-opens it when it dies (libvirtd
/// restarted, its socket closed), and logs one line when an outage starts and one when it ends (not
/// one per cycle). Every libvirt call goes through `gate`, under a deadline.
public actor LibvirtSession {
    public let uri: String
    /// Deadline of connection-wide calls (open, list).
    public let deadline: Double
    public nonisolated let gate = CallGate(label: "nephometer.libvirt")
    /// Domains libvirt's events reported changed (every connection registers for them).
    public nonisolated let changes = DomainChanges()
    private let once = LogOnce()
    private var connection: LibvirtConnection?
    private var failures = 0
    private var retryAt: Double = 0
    private var outageSince: Double?
    private let logger: Logger
    /// Incremented each time a new connection is opened, so caches tied to a connection can reset.
    public private(set) var generation = 0
    /// Whether the last open or call found libvirt reachable.
    public private(set) var connected = false
    /// Connections retired because a call on them got stuck (see `retire`), since start.
    public private(set) var retired = 0

    /// Longest wait between attempts to reconnect: a restarted libvirtd is found within this.
    static let maxRetryDelay = 2.0

    public init(uri: String, deadline: Double = 10, logger: Logger) {
        self.uri = uri
        self.deadline = deadline
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
        let uri = self.uri
        let replacing = connected
        let changes = self.changes
        switch await gate.run("open", seconds: deadline, { () throws -> Opened in
            let c = try LibvirtConnection.open(uri: uri)
            let events = LibvirtConnection.openEvents(uri: uri, changes: changes)
            c.events.withLock { $0 = events }
            return Opened(connection: c, watching: events != nil)
        }) {
        case .value(let opened):
            let c = opened.connection
            connection = c
            connected = true
            // What changed before this connection's events began is unknown.
            changes.noteAll()
            if !opened.watching, LibvirtEventLoop.running, !uri.hasPrefix("test:///") {
                once.log(logger, .notice, key: "events", "libvirt at \(uri) does not deliver domain events; a changed Nova metadata (a renamed or resized instance) is read again only when its domain restarts")
            }
            // A replacement for a retired connection talks to the same daemon: caches stay valid.
            if !replacing { generation += 1 }
            if let since = outageSince {
                logger.notice("libvirt connection to \(uri) restored after \(Int(now - since)) s")
            }
            outageSince = nil
            failures = 0
            return c
        case .failed(let error):
            noteFailure("cannot connect to libvirt at \(uri): \(error)")
            throw error
        case .timedOut, .busy:
            let e = LibvirtUnavailable(uri: uri, retryIn: Self.maxRetryDelay, reason: "opening the connection takes longer than \(deadline) s")
            noteFailure("cannot connect to libvirt at \(uri): \(e.reason)")
            throw e
        }
    }

    /// Takes a connection out of use because a call on it missed its deadline: libvirtd stops serving a
    /// connection's later calls once one of them waits on a QEMU monitor that does not answer, so the
    /// next `get` opens a fresh one at once. The stuck call keeps the old connection until it returns.
    public func retire(_ c: LibvirtConnection) {
        guard connection === c else { return }
        connection = nil
        retired += 1
        logger.debug("libvirt connection retired after a call missed its deadline; opening a new one (\(retired) so far)")
    }

    /// Tells the session a call failed because the connection is gone; the next `get` re-opens it.
    public func invalidate(after error: any Error) {
        guard let e = error as? LibvirtError, e.isDisconnect else { return }
        connection = nil
        noteFailure("libvirt connection to \(uri) failed: \(e.message)")
    }

    private func noteFailure(_ message: String) {
        let now = Time.monotonic()
        connected = false
        connection = nil
        if outageSince == nil {
            outageSince = now
            logger.error("\(message); reconnecting every \(Int(Self.maxRetryDelay)) s at most")
        }
        failures += 1
        retryAt = now + min(Self.maxRetryDelay, 0.25 * Double(1 << min(failures, 4)))
    }

    public func close() { connection = nil }
}

private struct Opened: Sendable {
    let connection: LibvirtConnection
    let watching: Bool
}

public struct LibvirtUnavailable: Error, CustomStringConvertible {
    public let uri: String
    public let retryIn: Double
    public var reason = "unavailable"
    public var description: String { "libvirt at \(uri) \(reason); next attempt in \(Int(retryIn.rounded(.up))) s" }
}
