import Foundation
import NephometerCore

/// Everything inspected for one domain in one cycle.
public struct DomainStats: Sendable {
    public init(info: DomainInfo, bulk: [String: TypedValue] = [:], polledAt: Double, readAt: Double) {
        self.info = info
        self.bulk = bulk
        self.polledAt = polledAt
        timestamp = Time.isoTimestamp(Date(timeIntervalSince1970: readAt))
    }

    public var info: DomainInfo
    /// This domain's record from the bulk stats call (empty when the driver has no bulk stats).
    public var bulk: [String: TypedValue] = [:]
    /// `virDomainMemoryStats`, when a memory meter needs it and bulk stats did not provide balloon data.
    public var memory: [String: UInt64]?
    /// Per-device stats read one by one (drivers without bulk block/net stats).
    public var blocks: [String: BlockStats] = [:]
    public var blockInfo: [String: BlockInfo] = [:]
    public var interfaces: [String: InterfaceStats] = [:]
    /// Monotonic seconds when the stats were read.
    public var polledAt: Double
    /// When the values were read (wall clock), as samples' `timestamp`: a value read late is stamped
    /// with when it was read, not when it was published.
    public var timestamp: String
    /// A libvirt job held the domain (see `ComputeInspector`): only what needs no QEMU monitor is here.
    public var jobHeld = false
    /// Interface byte deltas since the previous cycle (`network.*.bytes.delta`).
    public var deltas: InterfaceDeltas?

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
        return bulk[name == "actual" ? "balloon.current" : "balloon.\(name)"]?.uint64
    }

    /// Block stats of a disk (bulk `block.N.*` by device name, else the per-device read).
    public func block(_ device: String) -> BlockStats? {
        if let b = blocks[device] { return b }
        guard let n = bulkIndex("block", device) else { return nil }
        func v(_ k: String) -> Int64? { bulk["block.\(n).\(k)"]?.uint64.map { Int64(clamping: $0) } }
        guard let rr = v("rd.reqs"), let rb = v("rd.bytes"), let wr = v("wr.reqs"), let wb = v("wr.bytes") else { return nil }
        return BlockStats(readRequests: rr, readBytes: rb, writeRequests: wr, writeBytes: wb, errors: v("errors") ?? 0,
                          readTotalTimeNs: v("rd.times"), writeTotalTimeNs: v("wr.times"))
    }

    /// Capacity, allocation and physical size of a disk.
    public func blockSizes(_ device: String) -> BlockInfo? {
        if let b = blockInfo[device] { return b }
        guard let n = bulkIndex("block", device), let c = bulk["block.\(n).capacity"]?.uint64 else { return nil }
        let alloc = bulk["block.\(n).allocation"]?.uint64 ?? 0
        return BlockInfo(capacity: c, allocation: alloc, physical: bulk["block.\(n).physical"]?.uint64 ?? alloc)
    }

    /// Interface counters of a tap device.
    public func interface(_ device: String) -> InterfaceStats? {
        if let i = interfaces[device] { return i }
        guard let n = bulkIndex("net", device) else { return nil }
        func v(_ k: String) -> Int64? { bulk["net.\(n).\(k)"]?.uint64.map { Int64(clamping: $0) } }
        guard let rb = v("rx.bytes"), let tb = v("tx.bytes") else { return nil }
        return InterfaceStats(rxBytes: rb, rxPackets: v("rx.pkts") ?? 0, rxErrors: v("rx.errs") ?? 0, rxDrop: v("rx.drop") ?? 0,
                              txBytes: tb, txPackets: v("tx.pkts") ?? 0, txErrors: v("tx.errs") ?? 0, txDrop: v("tx.drop") ?? 0)
    }

    /// The index N of `<group>.N.name == device` in bulk stats.
    private func bulkIndex(_ group: String, _ device: String) -> UInt64? {
        guard let count = bulk["\(group).count"]?.uint64 else { return nil }
        for n in 0..<count where bulk["\(group).\(n).name"]?.string == device { return n }
        return nil
    }

    public var isShutOff: Bool { info.state == 5 }
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
