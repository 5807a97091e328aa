import NephometerCore

/// Everything inspected for one domain in one cycle.
public struct DomainStats: Sendable {
    public var info: DomainInfo
    /// This domain's record from the bulk stats call (empty when the driver has no bulk stats).
    public var bulk: [String: TypedValue] = [:]
    /// `virDomainMemoryStats`, when a memory meter needs it and bulk stats did not provide balloon data.
    public var memory: [String: UInt64]?
    public var blocks: [String: BlockStats] = [:]
    public var blockInfo: [String: BlockInfo] = [:]
    public var interfaces: [String: InterfaceStats] = [:]
    /// Monotonic seconds when the stats were read.
    public var polledAt: Double

    /// Ceilometer's CPU time: Σ vcpu.N.time + vcpu.N.wait over vcpu.maximum, falling back to cpu.time when
    /// the per-vCPU data has holes, and to `virDomainGetInfo`'s cpuTime when bulk stats have neither.
    public var cpuTime: UInt64 {
        if let maximum = bulk["vcpu.maximum"]?.uint64, var remaining = bulk["vcpu.current"]?.uint64 {
            var total: UInt64 = 0
            for n in 0..<maximum {
                if let t = bulk["vcpu.\(n).time"]?.uint64, let w = bulk["vcpu.\(n).wait"]?.uint64 {
                    total &+= t &+ w
                    if remaining > 0 { remaining -= 1 }
                }
            }
            if remaining == 0 { return total }
        }
        if let t = bulk["cpu.time"]?.uint64 { return t }
        return info.cpuTimeNs
    }

    /// Current vCPU count: bulk `vcpu.current`, else `virDomainGetInfo`'s nrVirtCpu.
    public var vcpus: Int {
        if let v = bulk["vcpu.current"]?.uint64 { return Int(v) }
        return info.vcpus
    }

    /// Memory statistics in KiB by libvirt's names, from bulk balloon data or `virDomainMemoryStats`.
    public func memoryStat(_ name: String) -> UInt64? {
        if let m = memory?[name] { return m }
        let bulkName: String
        switch name {
        case "actual": bulkName = "balloon.current"
        case "swap_in": bulkName = "balloon.swap_in"
        case "swap_out": bulkName = "balloon.swap_out"
        case "unused": bulkName = "balloon.unused"
        case "available": bulkName = "balloon.available"
        case "usable": bulkName = "balloon.usable"
        case "rss": bulkName = "balloon.rss"
        default: bulkName = "balloon.\(name)"
        }
        return bulk[bulkName]?.uint64
    }
}

/// What a meter needs inspected.
public struct InspectionNeeds: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let cpu = InspectionNeeds(rawValue: 1 << 0)
    public static let memory = InspectionNeeds(rawValue: 1 << 1)
    public static let blockStats = InspectionNeeds(rawValue: 1 << 2)
    public static let blockInfo = InspectionNeeds(rawValue: 1 << 3)
    public static let interfaces = InspectionNeeds(rawValue: 1 << 4)
    public static let perf = InspectionNeeds(rawValue: 1 << 5)

    var bulkGroups: DomainStatsGroups {
        var g: DomainStatsGroups = [.state]
        if contains(.cpu) { g.formUnion([.cpuTotal, .vcpu]) }
        if contains(.memory) { g.insert(.balloon) }
        if contains(.blockStats) || contains(.blockInfo) { g.insert(.block) }
        if contains(.interfaces) { g.insert(.interface) }
        if contains(.perf) { g.insert(.perf) }
        return g
    }
}
