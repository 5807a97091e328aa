import NephometerCore

/// One value a compute meter produces for a domain (or one of its devices).
public struct MeterValue: Sendable {
    public var resourceID: String?
    public var volume: Number
    public var extraMetadata: MetadataObject?
}

/// The result of evaluating a meter on one domain.
public enum MeterResult: Sendable {
    case values([MeterValue])
    /// libvirt has no data for this meter on this domain (logged once per domain).
    case unavailable(String)

    static func single(_ v: Number, _ extra: MetadataObject? = nil) -> MeterResult {
        .values([MeterValue(resourceID: nil, volume: v, extraMetadata: extra)])
    }
}

/// A compute meter: name, type, unit, what it needs inspected, and how to read its value.
public struct ComputeMeter: Sendable {
    public let name: String
    public let type: SampleType
    public let unit: String
    public let needs: InspectionNeeds
    /// Reported for shut-off domains when `report_stopped_instance_metrics` is on.
    public let reportsWhenStopped: Bool
    public let read: @Sendable (DiscoveredInstance, DomainStats) -> MeterResult
}

/// The compute meters (Ceilometer's `compute` namespace, reference §6).
public enum ComputeMeters {
    public static let all: [ComputeMeter] = [
        ComputeMeter(name: "power.state", type: .gauge, unit: "", needs: [], reportsWhenStopped: true) { _, s in
            .single(.int(Int64(s.info.state)))
        },
        ComputeMeter(name: "cpu", type: .cumulative, unit: "ns", needs: [.cpu], reportsWhenStopped: false) { _, s in
            .single(Number(s.cpuTime), ["cpu_number": .int(s.vcpus)])
        },
        ComputeMeter(name: "vcpus", type: .gauge, unit: "vcpu", needs: [.cpu], reportsWhenStopped: true) { _, s in
            .single(.int(Int64(s.vcpus)))
        },
        ComputeMeter(name: "memory.usage", type: .gauge, unit: "MiB", needs: [.memory], reportsWhenStopped: false) { _, s in
            guard let available = s.memoryStat("available") else {
                return .unavailable("no 'available' memory statistic (is the balloon driver running with a stats period?)")
            }
            if let usable = s.memoryStat("usable") {
                return .single(.double((Double(available) - Double(usable)) / 1024))
            }
            if let unused = s.memoryStat("unused") {
                return .single(.double((Double(available) - Double(unused)) / 1024))
            }
            return .unavailable("no 'usable' or 'unused' memory statistic")
        },
    ]

    public static var names: [String] { all.map(\.name) }
}
