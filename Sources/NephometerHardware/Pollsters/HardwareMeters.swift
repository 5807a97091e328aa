import NephometerCore

/// One value a hardware meter produces: for the host, or for one of its disks or interfaces.
struct MeterValue: Sendable {
    /// Appended to the host as `<host>.<suffix>` (Ceilometer's per-disk / per-interface ids).
    var suffix: String?
    var volume: Number
    /// Metadata before `resource_url` (disk path/device, interface name/speed/mac/ip).
    var metadata: MetadataObject
}

/// A `hardware.*` meter: name, type, unit, what it reads, and how.
public struct HardwareMeter: Sendable {
    public let name: String
    public let type: SampleType
    public let unit: String
    let scalars: [OID]
    let tables: [HardwareTable]
    /// Values, or nil when the agent lacks the object (reported once per host).
    let read: @Sendable (HostSnapshot) -> [MeterValue]?
}

/// The meters of Ceilometer 18's `snmp.yaml` (reference §7), with its disk-IO bugs fixed.
public enum HardwareMeters {
    typealias O = HardwareOIDs

    static func scalar(_ name: String, _ type: SampleType, _ unit: String, _ oid: OID) -> HardwareMeter {
        HardwareMeter(name: name, type: type, unit: unit, scalars: [oid], tables: []) { s in
            s.integer(oid).map { [MeterValue(volume: .int($0), metadata: [:])] }
        }
    }

    static func load(_ name: String, _ oid: OID) -> HardwareMeter {
        // Ceilometer: float(str(x)) of the laLoad string.
        HardwareMeter(name: name, type: .gauge, unit: "process", scalars: [oid], tables: []) { s in
            guard let text = s.scalars[oid]?.text, let v = Double(text.trimmingSpaces) else { return nil }
            return [MeterValue(volume: .double(v), metadata: [:])]
        }
    }

    static func disk(_ name: String, _ value: @escaping @Sendable (HostSnapshot.Disk) -> Int64?) -> HardwareMeter {
        HardwareMeter(name: name, type: .gauge, unit: "KB", scalars: [], tables: [.disks]) { s in
            s.disks.compactMap { d in
                value(d).map { MeterValue(suffix: d.device, volume: .int($0),
                                          metadata: ["path": .string(d.path), "device": .string(d.device)]) }
            }
        }
    }

    static func diskIO(_ name: String, _ unit: String, _ value: @escaping @Sendable (HostSnapshot.DiskIO) -> UInt64?) -> HardwareMeter {
        HardwareMeter(name: name, type: .gauge, unit: unit, scalars: [], tables: [.diskIO]) { s in
            s.diskIO.compactMap { d in
                value(d).map { MeterValue(suffix: d.device, volume: Number($0), metadata: ["device": .string(d.device)]) }
            }
        }
    }

    static func net(_ name: String, _ unit: String, _ value: @escaping @Sendable (HostSnapshot.Interface) -> UInt64?) -> HardwareMeter {
        HardwareMeter(name: name, type: .cumulative, unit: unit, scalars: [], tables: [.interfaces, .ipAddresses]) { s in
            s.interfaces.compactMap { i in
                value(i).map {
                    MeterValue(suffix: i.name, volume: Number($0),
                               metadata: ["name": .string(i.name), "speed": i.speed.map { .double($0) } ?? .null,
                                          "mac": .string(i.mac), "ip": .string(i.ip)])
                }
            }
        }
    }

    public static let all: [HardwareMeter] = [
        load("hardware.cpu.load.1min", O.load1),
        load("hardware.cpu.load.5min", O.load5),
        load("hardware.cpu.load.15min", O.load15),
        scalar("hardware.cpu.util", .gauge, "%", O.cpuUtil),
        scalar("hardware.cpu.user", .gauge, "tick", O.cpuRaw(50)),
        scalar("hardware.cpu.nice", .gauge, "tick", O.cpuRaw(51)),
        scalar("hardware.cpu.system", .gauge, "tick", O.cpuRaw(52)),
        scalar("hardware.cpu.idle", .gauge, "tick", O.cpuRaw(53)),
        scalar("hardware.cpu.wait", .gauge, "tick", O.cpuRaw(54)),
        scalar("hardware.cpu.kernel", .gauge, "tick", O.cpuRaw(55)),
        scalar("hardware.cpu.interrupt", .gauge, "tick", O.cpuRaw(56)),
        disk("hardware.disk.size.total") { $0.total },
        disk("hardware.disk.size.used") { $0.used },
        diskIO("hardware.disk.read.bytes", "B") { $0.readBytes },
        diskIO("hardware.disk.write.bytes", "B") { $0.writtenBytes },
        diskIO("hardware.disk.read.requests", "requests") { $0.reads },
        diskIO("hardware.disk.write.requests", "requests") { $0.writes },
        scalar("hardware.memory.total", .gauge, "KB", O.memTotal),
        HardwareMeter(name: "hardware.memory.used", type: .gauge, unit: "KB", scalars: [O.memTotal, O.memAvail], tables: []) { s in
            guard let total = s.integer(O.memTotal), let avail = s.integer(O.memAvail) else { return nil }
            return [MeterValue(volume: .int(total - avail), metadata: [:])]
        },
        scalar("hardware.memory.swap.total", .gauge, "KB", O.swapTotal),
        scalar("hardware.memory.swap.avail", .gauge, "KB", O.swapAvail),
        scalar("hardware.memory.buffer", .gauge, "KB", O.memBuffer),
        scalar("hardware.memory.cached", .gauge, "KB", O.memCached),
        net("hardware.network.incoming.bytes", "B") { $0.inOctets },
        net("hardware.network.outgoing.bytes", "B") { $0.outOctets },
        net("hardware.network.outgoing.errors", "packet") { $0.outErrors },
        scalar("hardware.network.ip.outgoing.datagrams", .cumulative, "datagrams", O.ipOutRequests),
        scalar("hardware.network.ip.incoming.datagrams", .cumulative, "datagrams", O.ipInReceives),
        scalar("hardware.system_stats.cpu.idle", .gauge, "%", O.cpuIdlePercent),
        scalar("hardware.system_stats.io.outgoing.blocks", .cumulative, "blocks", O.ioSent),
        scalar("hardware.system_stats.io.incoming.blocks", .cumulative, "blocks", O.ioReceived),
    ]

    public static var names: [String] { all.map(\.name) }
}
