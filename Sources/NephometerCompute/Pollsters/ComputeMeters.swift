import NephometerCore

/// One value a compute meter produces for a domain (or one of its devices).
public struct MeterValue: Sendable {
    public var resourceID: String?
    public var volume: Number
    /// Which of the instance's shared metadata trees the sample carries.
    public var metadata: MetadataVariant = .instance
}

/// The result of evaluating a meter on one domain.
public enum MeterResult: Sendable {
    case values([MeterValue])
    /// libvirt has no data for this meter on this domain (logged once per domain).
    case unavailable(String)

    static func single(_ v: Number, _ metadata: MetadataVariant = .instance) -> MeterResult {
        .values([MeterValue(resourceID: nil, volume: v, metadata: metadata)])
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
    static func mib(_ kib: UInt64) -> Number { .double(Double(kib) / 1024) }

    static func memory(_ name: String, stat: String) -> ComputeMeter {
        ComputeMeter(name: name, type: .gauge, unit: "MiB", needs: [.memory], reportsWhenStopped: false) { _, s in
            guard let v = s.memoryStat(stat) else { return .unavailable("no '\(stat)' memory statistic (is the guest's balloon driver running with a stats period?)") }
            return .single(mib(v))
        }
    }

    static func swap(_ name: String, _ stat: String) -> ComputeMeter {
        ComputeMeter(name: name, type: .cumulative, unit: "MiB", needs: [.memory], reportsWhenStopped: false) { _, s in
            guard s.memoryStat("swap_in") != nil, s.memoryStat("swap_out") != nil, let v = s.memoryStat(stat) else {
                return .unavailable("no swap statistics from the balloon driver")
            }
            return .single(mib(v))
        }
    }

    static func perf(_ name: String, _ stat: String) -> ComputeMeter {
        ComputeMeter(name: name, type: .gauge, unit: "", needs: [.perf], reportsWhenStopped: false) { _, s in
            guard let v = s.bulk["perf.\(stat)"]?.uint64 else { return .unavailable("perf event \(stat) is not enabled for the domain") }
            return .single(Number(v))
        }
    }

    /// One value per disk with a source: resource id `<uuid>-<dev>`, metadata `disk_name`.
    static func disk(_ name: String, _ type: SampleType, _ unit: String, needs: InspectionNeeds, stopped: Bool = false,
                     _ value: @escaping @Sendable (DomainStats, String) -> Number?) -> ComputeMeter {
        ComputeMeter(name: name, type: type, unit: unit, needs: needs, reportsWhenStopped: stopped) { di, s in
            var out: [MeterValue] = []
            for disk in di.instance.disks {
                guard let v = value(s, disk.device) else { continue }
                out.append(MeterValue(resourceID: "\(di.instance.id)-\(disk.device)", volume: v,
                                      metadata: .disk(disk.device)))
            }
            if out.isEmpty && !di.instance.disks.isEmpty { return .unavailable("no \(name) data for its disks") }
            return .values(out)
        }
    }

    /// One value per interface: resource id = filterref name, else `<domain name>-<uuid>-<tap>`.
    static func nic(_ name: String, _ type: SampleType, _ unit: String,
                    _ value: @escaping @Sendable (DiscoveredInstance, DomainStats, Instance.Interface, InterfaceStats) -> Number?) -> ComputeMeter {
        ComputeMeter(name: name, type: type, unit: unit, needs: [.interfaces], reportsWhenStopped: false) { di, s in
            var out: [MeterValue] = []
            for iface in di.instance.interfaces {
                guard let stats = s.interface(iface.name), let v = value(di, s, iface, stats) else { continue }
                out.append(MeterValue(resourceID: iface.filterRef ?? "\(di.instance.domainName)-\(di.instance.id)-\(iface.name)",
                                      volume: v, metadata: .interface(iface)))
            }
            if out.isEmpty && !di.instance.interfaces.isEmpty { return .unavailable("no interface statistics") }
            return .values(out)
        }
    }

    static func nicMetadata(_ i: Instance.Interface) -> MetadataObject {
        [
            "name": .string(i.name), "mac": .optionalString(i.mac), "fref": .optionalString(i.filterRef),
            "parameters": .object(MetadataObject(i.parameters.map { ($0.0, MetadataValue.optionalString($0.1)) })),
            "vnic_name": .string(i.filterRef ?? i.name),
        ]
    }

    public static let all: [ComputeMeter] = [
        ComputeMeter(name: "power.state", type: .gauge, unit: "", needs: [], reportsWhenStopped: true) { _, s in
            .single(.int(Int64(s.info.state)))
        },
        ComputeMeter(name: "cpu", type: .cumulative, unit: "ns", needs: [.cpu], reportsWhenStopped: false) { _, s in
            .single(Number(s.cpuTime), .cpu(s.vcpus))
        },
        ComputeMeter(name: "vcpus", type: .gauge, unit: "vcpu", needs: [.cpu], reportsWhenStopped: true) { _, s in
            .single(.int(Int64(s.vcpus)))
        },
        ComputeMeter(name: "memory", type: .gauge, unit: "MiB", needs: [.memory], reportsWhenStopped: true) { _, s in
            // A shut-off domain has no balloon: Ceilometer reports its configured memory (info()[1]).
            if s.isShutOff { return .single(mib(s.info.maxMemoryKiB)) }
            guard let v = s.memoryStat("actual") else { return .unavailable("no 'actual' balloon statistic") }
            return .single(mib(v))
        },
        memory("memory.available", stat: "available"),
        ComputeMeter(name: "memory.usage", type: .gauge, unit: "MiB", needs: [.memory], reportsWhenStopped: false) { _, s in
            guard let available = s.memoryStat("available") else {
                return .unavailable("no 'available' memory statistic (is the guest's balloon driver running with a stats period?)")
            }
            if let usable = s.memoryStat("usable") { return .single(.double((Double(available) - Double(usable)) / 1024)) }
            if let unused = s.memoryStat("unused") { return .single(.double((Double(available) - Double(unused)) / 1024)) }
            return .unavailable("no 'usable' or 'unused' memory statistic")
        },
        memory("memory.resident", stat: "rss"),
        swap("memory.swap.in", "swap_in"),
        swap("memory.swap.out", "swap_out"),
        perf("perf.cpu.cycles", "cpu_cycles"),
        perf("perf.instructions", "instructions"),
        perf("perf.cache.references", "cache_references"),
        perf("perf.cache.misses", "cache_misses"),
        disk("disk.device.read.requests", .cumulative, "request", needs: [.blockStats]) { s, d in s.block(d).map { Number($0.readRequests) } },
        disk("disk.device.read.bytes", .cumulative, "B", needs: [.blockStats]) { s, d in s.block(d).map { Number($0.readBytes) } },
        disk("disk.device.write.requests", .cumulative, "request", needs: [.blockStats]) { s, d in s.block(d).map { Number($0.writeRequests) } },
        disk("disk.device.write.bytes", .cumulative, "B", needs: [.blockStats]) { s, d in s.block(d).map { Number($0.writeBytes) } },
        disk("disk.device.read.latency", .cumulative, "ns", needs: [.blockStats]) { s, d in s.block(d)?.readTotalTimeNs.map { Number($0) } },
        disk("disk.device.write.latency", .cumulative, "ns", needs: [.blockStats]) { s, d in s.block(d)?.writeTotalTimeNs.map { Number($0) } },
        disk("disk.device.capacity", .gauge, "B", needs: [.blockInfo], stopped: true) { s, d in s.blockSizes(d).map { Number(max($0.capacity, $0.physical)) } },
        disk("disk.device.allocation", .gauge, "B", needs: [.blockInfo], stopped: true) { s, d in s.blockSizes(d).map { Number($0.allocation) } },
        disk("disk.device.usage", .gauge, "B", needs: [.blockInfo], stopped: true) { s, d in s.blockSizes(d).map { Number($0.physical) } },
        ComputeMeter(name: "disk.ephemeral.size", type: .gauge, unit: "GiB", needs: [], reportsWhenStopped: true) { di, _ in
            .single(.int(Int64(di.instance.flavor.ephemeral)))
        },
        ComputeMeter(name: "disk.root.size", type: .gauge, unit: "GiB", needs: [], reportsWhenStopped: true) { di, _ in
            .single(.int(Int64(di.instance.flavor.disk - di.instance.flavor.ephemeral)))
        },
        nic("network.incoming.bytes", .cumulative, "B") { _, _, _, n in Number(n.rxBytes) },
        nic("network.incoming.packets", .cumulative, "packet") { _, _, _, n in Number(n.rxPackets) },
        nic("network.incoming.packets.drop", .cumulative, "packet") { _, _, _, n in Number(n.rxDrop) },
        nic("network.incoming.packets.error", .cumulative, "packet") { _, _, _, n in Number(n.rxErrors) },
        nic("network.outgoing.bytes", .cumulative, "B") { _, _, _, n in Number(n.txBytes) },
        nic("network.outgoing.packets", .cumulative, "packet") { _, _, _, n in Number(n.txPackets) },
        nic("network.outgoing.packets.drop", .cumulative, "packet") { _, _, _, n in Number(n.txDrop) },
        nic("network.outgoing.packets.error", .cumulative, "packet") { _, _, _, n in Number(n.txErrors) },
        nic("network.incoming.bytes.delta", .delta, "B") { di, s, i, n in s.deltas?.value(of: "\(i.name)/rx") ?? Number(0) },
        nic("network.outgoing.bytes.delta", .delta, "B") { di, s, i, n in s.deltas?.value(of: "\(i.name)/tx") ?? Number(0) },
    ]

    public static var names: [String] { all.map(\.name) }
}

/// Byte deltas per tap device since the previous cycle, as Ceilometer's inspector computed them:
/// 0 the first time, the raw value when the counter went down.
public struct InterfaceDeltas: Sendable {
    var values: [String: Int64]
    func value(of key: String) -> Number? { values[key].map { Number($0) } }
}
