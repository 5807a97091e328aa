import Logging
import NephometerConfig
import NephometerCore
import Synchronization

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
                    // Shared trees: the encoders render each once, not once per sample.
                    let metadata = di.shared.tree(v.metadata)
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
    public let discoverers: [any Discoverer]
    public let session: LibvirtSession
    let options: Options
    let logger: Logger
    let once = LogOnce()
    private let current = Mutex<[any Pollster]>([])
    /// The cycle inspection shared by the pollsters (its counters feed self-metrics).
    public let inspector: ComputeInspector

    public struct Options: FamilyOptions, Hashable {
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
        self.options = options
        self.logger = logger
        session = LibvirtSession(uri: options.libvirtURI, deadline: options.domainDeadline, logger: logger)
        let meters = ComputeMeters.all.filter { enabled.contains($0.name) }
        inspector = ComputeInspector(session: session, needs: Self.needs(meters), deadline: options.domainDeadline, logger: logger)
        discoverers = [InstanceDiscovery(host: options.host, session: session, logger: logger)]
        current.withLock { $0 = makePollsters(meters) }
    }

    static func needs(_ meters: [ComputeMeter]) -> InspectionNeeds { meters.reduce(InspectionNeeds()) { $0.union($1.needs) } }

    private func makePollsters(_ meters: [ComputeMeter]) -> [any Pollster] {
        meters.map {
            ComputePollster(meter: $0, inspector: inspector, reportStopped: options.reportStoppedInstanceMetrics,
                            source: options.sampleSource, logger: logger, once: once)
        }
    }

    public var pollsters: [any Pollster] { current.withLock { $0 } }

    public func reconfigure(enabled: Set<String>) async {
        let meters = ComputeMeters.all.filter { enabled.contains($0.name) }
        await inspector.setNeeds(Self.needs(meters))
        let p = makePollsters(meters)
        current.withLock { $0 = p }
    }

    public static var meterNames: [String] { ComputeMeters.names }

    public func shutdown() async { await session.close() }

    public func status() async -> FamilyStatus {
        var s = FamilyStatus()
        let connected = await session.connected
        let misses = await inspector.deadlineMisses
        let stuck = await inspector.stuckDomains
        s.values = [
            .init("nephometer_libvirt_connected", connected ? 1 : 0, help: "1 while the libvirt connection is open and answering"),
            .init("nephometer_libvirt_deadline_misses_total", Double(misses), help: "Domain inspections skipped because libvirt did not answer within compute.domain_deadline", counter: true),
            .init("nephometer_libvirt_stuck_domains", Double(stuck.count), help: "Domains whose libvirt call missed its deadline and has not returned"),
            .init("nephometer_libvirt_connections_retired_total", Double(await session.retired), help: "libvirt connections replaced after a call on them got stuck", counter: true),
        ]
        s.title = "libvirt"
        s.columns = ["URI", "connected", "deadline misses", "stuck domains"]
        s.rows = [[Redaction.url(options.libvirtURI), connected ? "yes" : "no", "\(misses)", stuck.isEmpty ? "none" : stuck.joined(separator: ", ")]]
        return s
    }
}

/// The compute family's kind: namespace `compute`, section `compute:` of nephometer.yaml.
public struct ComputeFamilyKind: PollsterFamilyKind {
    public init() {}
    public let namespace = "compute"
    public let section = "compute"
    public var meterNames: [String] { ComputeMeters.names }
    static let keys = ["libvirt_uri", "report_stopped_instance_metrics", "domain_deadline", "sample_source"]

    public func options(_ section: ConfigNode?, agent: AgentConfig, overrides: ConfigOverrides, _ d: Diagnostics) -> (any FamilyOptions)? {
        let before = d.errors.count
        var o = ComputeFamily.Options(libvirtURI: agent.libvirtURI ?? "qemu:///system", host: agent.host)
        if let section, section.expectMapping("compute settings", d) != nil {
            section.checkKeys(Self.keys, d)
            if let n = section["libvirt_uri"], let v = n.expectString("a libvirt URI", d) { o.libvirtURI = v }
            if let n = section["report_stopped_instance_metrics"], let v = n.expectBool("report_stopped_instance_metrics", d) { o.reportStoppedInstanceMetrics = v }
            if let n = section["domain_deadline"], let v = n.expectDouble("domain_deadline in seconds", d, in: 0.001...3600) { o.domainDeadline = v }
            if let n = section["sample_source"], let v = n.expectString("sample_source", d) { o.sampleSource = v }
        }
        if let v = overrides.libvirtURI { o.libvirtURI = v }
        return d.errors.count == before ? o : nil
    }

    public func make(_ options: any FamilyOptions, enabled: Set<String>, logger: Logger) -> any PollsterFamily {
        let o = options as? ComputeFamily.Options ?? ComputeFamily.Options(libvirtURI: "qemu:///system", host: "localhost")
        return ComputeFamily(options: o, enabled: enabled, logger: logger)
    }
}
