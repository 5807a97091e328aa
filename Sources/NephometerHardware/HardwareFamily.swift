import Logging
import NephometerCore

/// The `central` namespace: the SNMP `hardware.*` pollsters (Ceilometer 18's meters) over
/// `snmp://` resources listed in polling.yaml. See this module's README for meters and options.
public final class HardwareFamily: PollsterFamily {
    /// Engine and polling settings; every field has a default suited to a large fleet.
    public struct Options: Sendable {
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
    public let pollsters: [any Pollster]
    public let discoverers: [any Discoverer] = []
    let fetcher: HardwareFetcher

    /// - Parameter enabled: the meter names some polling source selects; only their OIDs are read.
    public init(options: Options, enabled: Set<String>, logger: Logger) {
        let meters = HardwareMeters.all.filter { enabled.contains($0.name) }
        let fetcher = HardwareFetcher(engine: .shared, options: options, meters: meters, logger: logger)
        self.fetcher = fetcher
        pollsters = meters.map { HardwarePollster(meter: $0, fetcher: fetcher, source: options.sampleSource) }
    }

    public static var meterNames: [String] { HardwareMeters.names }

    /// Per-host figures (last poll duration, timeouts, errors, up/down), for self-metrics.
    public var hostStatistics: [HostStatistics] { fetcher.registry.statistics }

    public func shutdown() async { fetcher.engine.close(keys: fetcher.polledKeys) }
}
