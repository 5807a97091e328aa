import Foundation
import Logging
import NephometerConfig
import NephometerCore
import Synchronization

/// The `central` namespace: the SNMP `hardware.*` pollsters (Ceilometer 18's meters) over
/// `snmp://` resources listed in polling.yaml. See this module's README for meters and options.
public final class HardwareFamily: PollsterFamily {
    /// Engine and polling settings; every field has a default suited to a large fleet.
    public struct Options: FamilyOptions, Hashable {
        /// Sample `source` (Ceilometer's hardware pollsters wrote `hardware`).
        public var sampleSource: String
        /// Hosts of one cycle polled at once.
        public var maxInFlight: Int
        /// Upper bound of GETBULK max-repetitions (learned per host and table from the last cycle).
        public var maxRepetitions: Int
        /// Seconds per request, unless the URL says `timeout=`.
        public var timeout: Double
        /// Resends per request, unless the URL says `retries=`.
        public var retries: Int
        /// Seconds one host may take in a cycle; nil: 3 × timeout × (retries + 1), at most 60.
        public var hostDeadline: Double?

        public init(sampleSource: String = "hardware", maxInFlight: Int = 1000, maxRepetitions: Int = 50,
                    timeout: Double = 1, retries: Int = 2, hostDeadline: Double? = nil) {
            self.sampleSource = sampleSource
            self.maxInFlight = maxInFlight
            self.maxRepetitions = maxRepetitions
            self.timeout = timeout
            self.retries = retries
            self.hostDeadline = hostDeadline
        }
    }

    public let namespace = "central"
    public let discoverers: [any Discoverer] = []
    let options: Options
    private let state: Mutex<(fetcher: HardwareFetcher, pollsters: [any Pollster])>

    /// - Parameter enabled: the meter names some polling source selects; only their OIDs are read.
    public init(options: Options, enabled: Set<String>, logger: Logger) {
        self.options = options
        let meters = HardwareMeters.all.filter { enabled.contains($0.name) }
        let fetcher = HardwareFetcher(engine: .shared, options: options, meters: meters, logger: logger)
        state = Mutex((fetcher, meters.map { HardwarePollster(meter: $0, fetcher: fetcher, source: options.sampleSource) }))
    }

    var fetcher: HardwareFetcher { state.withLock { $0.fetcher } }
    public var pollsters: [any Pollster] { state.withLock { $0.pollsters } }

    /// New meters, the same engine, sessions (and learned v3 engine ids) and counter-wrap state.
    public func reconfigure(enabled: Set<String>) async {
        let meters = HardwareMeters.all.filter { enabled.contains($0.name) }
        state.withLock { s in
            let fetcher = s.fetcher.with(meters: meters)
            s = (fetcher, meters.map { HardwarePollster(meter: $0, fetcher: fetcher, source: options.sampleSource) })
        }
    }

    public static var meterNames: [String] { HardwareMeters.names }

    /// Per-host figures (last poll duration, timeouts, errors, up/down), for self-metrics.
    public var hostStatistics: [HostStatistics] { fetcher.registry.statistics }

    public func shutdown() async { fetcher.engine.close(keys: fetcher.polledKeys) }

    /// How many slow hosts `/metrics` and `/status` name (the rest are in the totals).
    public static let slowestShown = 10

    public func status() async -> FamilyStatus {
        var s = FamilyStatus()
        let stats = hostStatistics
        let up = stats.filter { $0.up == true }.count
        s.values = [
            .init("nephometer_snmp_hosts", Double(up), help: "SNMP hosts by state of their last poll", labels: [("state", "up")]),
            .init("nephometer_snmp_hosts", Double(stats.count - up), help: "SNMP hosts by state of their last poll", labels: [("state", "down")]),
            .init("nephometer_snmp_polls_total", Double(stats.reduce(0) { $0 + $1.polls }), help: "SNMP host polls (all hosts)", counter: true),
            .init("nephometer_snmp_timeouts_total", Double(stats.reduce(0) { $0 + $1.timeouts }), help: "SNMP requests that timed out", counter: true),
            .init("nephometer_snmp_errors_total", Double(stats.reduce(0) { $0 + $1.errors }), help: "SNMP polls that failed", counter: true),
        ]
        let slowest = stats.sorted { ($0.lastPollSeconds ?? 0) > ($1.lastPollSeconds ?? 0) }.prefix(Self.slowestShown)
        for h in slowest {
            s.values.append(.init("nephometer_snmp_slowest_host_poll_seconds", h.lastPollSeconds ?? 0,
                                  help: "Last poll duration of the \(Self.slowestShown) slowest SNMP hosts", labels: [("host", h.resource)]))
        }
        s.title = "SNMP: the \(Self.slowestShown) slowest hosts of \(stats.count)"
        s.columns = ["host", "state", "polls", "last poll (s)", "timeouts", "errors"]
        s.rows = slowest.map { [$0.resource, $0.up == nil ? "not polled yet" : $0.up == true ? "up" : "down", "\($0.polls)",
                                String(format: "%.3f", $0.lastPollSeconds ?? 0), "\($0.timeouts)", "\($0.errors)"] }
        return s
    }
}

/// The central family's kind: namespace `central`, section `hardware:` of nephometer.yaml.
public struct HardwareFamilyKind: PollsterFamilyKind {
    public init() {}
    public let namespace = "central"
    public let section = "hardware"
    public var meterNames: [String] { HardwareMeters.names }
    static let keys = ["sample_source", "max_in_flight", "max_repetitions", "timeout", "retries", "host_deadline"]

    public func options(_ section: ConfigNode?, agent: AgentConfig, overrides: ConfigOverrides, _ d: Diagnostics) -> (any FamilyOptions)? {
        let before = d.errors.count
        var o = HardwareFamily.Options()
        if let section, section.expectMapping("hardware (SNMP) settings", d) != nil {
            section.checkKeys(Self.keys, d)
            if let n = section["sample_source"], let v = n.expectString("sample_source", d) { o.sampleSource = v }
            if let n = section["max_in_flight"], let v = n.expectInt("max_in_flight (hosts polled at once)", d, in: 1...100_000) { o.maxInFlight = v }
            if let n = section["max_repetitions"], let v = n.expectInt("max_repetitions (GETBULK)", d, in: 1...1_000) { o.maxRepetitions = v }
            if let n = section["timeout"], let v = n.expectDouble("timeout in seconds", d, in: 0.01...600) { o.timeout = v }
            if let n = section["retries"], let v = n.expectInt("retries", d, in: 0...20) { o.retries = v }
            if let n = section["host_deadline"], !n.isNull, let v = n.expectDouble("host_deadline in seconds", d, in: 0.01...3_600) { o.hostDeadline = v }
        }
        return d.errors.count == before ? o : nil
    }

    public func make(_ options: any FamilyOptions, enabled: Set<String>, logger: Logger) -> any PollsterFamily {
        HardwareFamily(options: options as? HardwareFamily.Options ?? HardwareFamily.Options(), enabled: enabled, logger: logger)
    }
}
