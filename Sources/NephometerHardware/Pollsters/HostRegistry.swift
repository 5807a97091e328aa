import Logging
import NephometerCore
import Synchronization

/// Per-host figures for self-metrics: last poll duration, polls, timeouts, errors, state.
public struct HostStatistics: Sendable, Hashable {
    /// The resource URL with secrets redacted.
    public var resource: String
    /// Whether the last poll succeeded (nil before the first poll).
    public var up: Bool?
    public var polls = 0
    public var timeouts = 0
    /// Failures other than timeouts (authentication, agent errors).
    public var errors = 0
    /// Seconds the last poll took.
    public var lastPollSeconds: Double?
    /// When the last poll ended (monotonic seconds, `Time.monotonic()`).
    public var lastPollEnded: Double?
    /// Monotonic seconds when the current outage began.
    public var downSince: Double?
    public var lastError: String?
}

/// State kept per host across cycles: counter extension, learned table sizes, statistics.
final class HostState: Sendable {
    struct Inner {
        var extender = CounterExtender()
        var lastUptime: UInt32?
        var repetitions: [HardwareTable: Int] = [:]
        var stats: HostStatistics
    }
    let inner: Mutex<Inner>
    init(resource: String) { inner = Mutex(Inner(stats: HostStatistics(resource: resource))) }
}

/// All hosts' state, and the one-line-per-state-change logging.
final class HostRegistry: Sendable {
    private let hosts = Mutex<[String: HostState]>([:])
    let logger: Logger
    let once = LogOnce()

    init(logger: Logger) { self.logger = logger }

    func state(_ key: String, resource: String) -> HostState {
        hosts.withLock { h in
            if let s = h[key] { return s }
            let s = HostState(resource: resource)
            h[key] = s
            return s
        }
    }

    var statistics: [HostStatistics] {
        let states = hosts.withLock { Array($0.values) }
        return states.map { $0.inner.withLock { $0.stats } }.sorted { $0.resource < $1.resource }
    }

    /// Records a poll; logs when the host goes down (once) and when it comes back.
    func record(_ state: HostState, target: SNMPTarget, key: String, outcome: HostOutcome) {
        let now = Time.monotonic()
        let downSince = state.inner.withLock { i -> Double? in
            let before = i.stats.downSince
            i.stats.polls += 1
            i.stats.lastPollSeconds = outcome.seconds
            i.stats.lastPollEnded = outcome.finishedAt
            switch outcome.result {
            case .success:
                i.stats.up = true
                i.stats.downSince = nil
            case .failure(let f):
                if f.kind == .timeout { i.stats.timeouts += 1 } else { i.stats.errors += 1 }
                i.stats.lastError = f.message
                if i.stats.up != false { i.stats.downSince = now }
                i.stats.up = false
            }
            return before
        }
        logger.trace("SNMP host polled", metadata: [
            "host": "\(target.redacted)", "seconds": "\(outcome.seconds)",
            "outcome": "\((try? outcome.result.get()) == nil ? "failed" : "ok")"])
        switch outcome.result {
        case .success:
            if once.clear("down/\(key)") {
                let secs = downSince.map { " after \(Int((now - $0).rounded())) s" } ?? ""
                logger.notice("SNMP host \(target.redacted) answers again\(secs)")
            }
        case .failure(let f):
            once.log(logger, .warning, key: "down/\(key)",
                     "SNMP host \(target.redacted) is down: \(f.message); its hardware.* samples are skipped until it answers")
        }
    }
}
