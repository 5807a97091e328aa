import Logging
import NephometerCore

/// A compute pollster: one meter over the discovered instances, sharing the cycle's inspection.
public struct ComputePollster: Pollster {
    public let meter: ComputeMeter
    let inspector: ComputeInspector
    let reportStopped: Bool
    let source: String
    let logger: Logger
    let once: LogOnce

    public var name: String { meter.name }
    public var defaultDiscovery: String? { "local_instances" }

    public func poll(_ resources: [PollResource], cycle: PollCycle) async throws -> [Sample] {
        let instances = resources.compactMap { $0.value as? DiscoveredInstance }
        let stats = try await inspector.stats(for: instances, cycle: cycle)
        var out: [Sample] = []
        out.reserveCapacity(instances.count)
        for di in instances {
            guard let s = stats[di.instance.id] else { continue }
            if s.info.state == 5 && !(reportStopped && meter.reportsWhenStopped) { continue }
            switch meter.read(di, s) {
            case .unavailable(let why):
                // A domain held by a job is reported once by the inspector, not once per meter.
                if s.jobHeld { continue }
                once.log(logger, .warning, key: "\(meter.name)/\(di.instance.id)",
                         "\(meter.name) unavailable for instance \(di.instance.id): \(why); not reported for it")
            case .values(let values):
                for v in values {
                    var metadata = di.metadata
                    if let extra = v.extraMetadata { metadata.update(with: extra) }
                    out.append(Sample(name: meter.name, type: meter.type, unit: meter.unit, volume: v.volume,
                                      userID: di.instance.userID, projectID: di.instance.projectID,
                                      resourceID: v.resourceID ?? di.instance.id, timestamp: s.timestamp,
                                      resourceMetadata: metadata, source: source, monotonicTime: s.polledAt))
                }
            }
        }
        return out
    }
}

/// The `compute` namespace: libvirt discovery and the compute pollsters for the enabled meters.
public final class ComputeFamily: PollsterFamily {
    public let namespace = "compute"
    public let pollsters: [any Pollster]
    public let discoverers: [any Discoverer]
    let session: LibvirtSession
    /// The cycle inspection shared by the pollsters (its counters feed self-metrics).
    public let inspector: ComputeInspector

    public struct Options: Sendable {
        public var libvirtURI: String
        public var host: String
        public var reportStoppedInstanceMetrics: Bool
        public var sampleSource: String
        /// Seconds one domain's libvirt calls may take in a cycle.
        public var domainDeadline: Double
        public init(libvirtURI: String, host: String, reportStoppedInstanceMetrics: Bool = false,
                    sampleSource: String = Sample.defaultSource, domainDeadline: Double = 10) {
            self.libvirtURI = libvirtURI
            self.host = host
            self.reportStoppedInstanceMetrics = reportStoppedInstanceMetrics
            self.sampleSource = sampleSource
            self.domainDeadline = domainDeadline
        }
    }

    /// - Parameter enabled: the meter names some polling source selects; only those are inspected.
    public init(options: Options, enabled: Set<String>, logger: Logger) {
        session = LibvirtSession(uri: options.libvirtURI, deadline: options.domainDeadline, logger: logger)
        let meters = ComputeMeters.all.filter { enabled.contains($0.name) }
        let needs = meters.reduce(InspectionNeeds()) { $0.union($1.needs) }
        let inspector = ComputeInspector(session: session, needs: needs, deadline: options.domainDeadline, logger: logger)
        self.inspector = inspector
        let once = LogOnce()
        pollsters = meters.map {
            ComputePollster(meter: $0, inspector: inspector, reportStopped: options.reportStoppedInstanceMetrics,
                            source: options.sampleSource, logger: logger, once: once)
        }
        discoverers = [InstanceDiscovery(host: options.host, session: session, logger: logger)]
    }

    public static var meterNames: [String] { ComputeMeters.names }

    public func shutdown() async { await session.close() }
}
