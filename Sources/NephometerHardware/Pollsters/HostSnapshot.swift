import NephometerCore

/// Everything read from one host in one cycle, typed and with 32-bit counters extended: what every
/// hardware pollster of the cycle reads from.
public struct HostSnapshot: Sendable {
    /// The host name of the URL: the resource id of host-level samples.
    public let resourceID: String
    /// The resource URL without credentials (`resource_url` metadata).
    public let resourceURL: String
    /// Scalars as the agent typed them.
    public let scalars: [OID: SNMPValue]
    /// Counter32 scalars extended to 64 bits.
    public let extended: [OID: UInt64]
    public let disks: [Disk]
    public let diskIO: [DiskIO]
    public let interfaces: [Interface]

    /// A dskTable row (UCD-SNMP-MIB), sizes in KB, from the 64-bit High/Low columns when present.
    public struct Disk: Sendable {
        public let path: String
        public let device: String
        public let total: Int64?
        public let used: Int64?
    }
    /// A diskIOTable row; byte counts from the 64-bit X columns when present.
    public struct DiskIO: Sendable {
        public let device: String
        public let readBytes: UInt64?
        public let writtenBytes: UInt64?
        public let reads: UInt64?
        public let writes: UInt64?
    }
    /// An interface: IF-MIB ifTable plus ifXTable; octets from ifHC* when the agent has them.
    public struct Interface: Sendable {
        public let ifIndex: UInt
        public let name: String
        /// Bytes per second (Ceilometer: ifSpeed / 8, a float); ifHighSpeed when ifSpeed saturates.
        public let speed: Double?
        public let mac: String
        public let ip: String
        public let inOctets: UInt64?
        public let outOctets: UInt64?
        public let outErrors: UInt64?
    }

    /// The scalar as an integer (Counter32 values extended).
    public func integer(_ oid: OID) -> Int64? {
        if let e = extended[oid] { return Int64(clamping: e) }
        return scalars[oid]?.signed
    }

    /// Base metadata of every sample of this host.
    var baseMetadata: MetadataObject { ["resource_url": .string(resourceURL)] }
}

extension HostSnapshot {
    /// Builds the snapshot from raw readings, extending Counter32 values with the host's extender.
    init(target: SNMPTarget, readings: HostReadings, tables: [HardwareTable], extender: inout CounterExtender) {
        resourceID = target.resourceID
        resourceURL = target.withoutCredentials
        scalars = readings.scalars
        var ext: [OID: UInt64] = [:]
        for (oid, v) in readings.scalars { if case .counter32(let raw) = v { ext[oid] = extender.extend(oid, raw) } }
        extended = ext
        func rows(_ t: HardwareTable) -> [TableRow] {
            guard let i = tables.firstIndex(of: t), i < readings.tables.count else { return [] }
            return readings.tables[i]
        }
        func counter(_ row: TableRow, _ column: Int, _ spec: TableSpec, _ ext: inout CounterExtender) -> UInt64? {
            guard column < row.values.count, let v = row.values[column], v.exists else { return nil }
            if case .counter32(let raw) = v { return ext.extend(spec.columns[column] + row.index, raw) }
            return v.unsigned
        }
        disks = rows(.disks).map { r in
            func v(_ c: Int) -> SNMPValue? { c < r.values.count ? r.values[c] : nil }
            func wide(_ low: Int, _ high: Int, _ plain: Int) -> Int64? {
                if let l = v(low)?.unsigned, let h = v(high)?.unsigned { return Int64(clamping: h << 32 | (l & 0xFFFF_FFFF)) }
                return v(plain)?.signed
            }
            return Disk(path: v(0)?.text ?? "", device: v(1)?.text ?? "", total: wide(4, 5, 2), used: wide(6, 7, 3))
        }
        let ioSpec = HardwareTable.diskIO.spec
        diskIO = rows(.diskIO).map { r in
            let read = counter(r, 5, ioSpec, &extender) ?? counter(r, 1, ioSpec, &extender)
            let written = counter(r, 6, ioSpec, &extender) ?? counter(r, 2, ioSpec, &extender)
            return DiskIO(device: r.values.first??.text ?? "", readBytes: read, writtenBytes: written,
                          reads: counter(r, 3, ioSpec, &extender), writes: counter(r, 4, ioSpec, &extender))
        }
        var ipByIndex: [UInt: String] = [:]
        for r in rows(.ipAddresses) {
            if let idx = r.values.first??.unsigned { ipByIndex[UInt(idx)] = r.index.map(String.init).joined(separator: ".") }
        }
        let ifSpec = HardwareTable.interfaces.spec
        interfaces = rows(.interfaces).compactMap { r in
            guard r.index.count == 1, r.values[0] != nil || r.values[3] != nil else { return nil }
            func v(_ c: Int) -> SNMPValue? { r.values[c].flatMap { $0.exists ? $0 : nil } }
            let ifName = v(6)?.text ?? ""
            let name = ifName.isEmpty ? (v(0)?.text ?? "") : ifName
            var speed = v(1)?.unsigned.map { Double($0) / 8 }
            if let s = v(1)?.unsigned, s == UInt64(UInt32.max), let high = v(9)?.unsigned { speed = Double(high) * 1_000_000 / 8 }
            let mac: String
            if case .string(let b)? = v(2) { mac = b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() } else { mac = "" }
            return Interface(ifIndex: r.index[0], name: name, speed: speed, mac: mac, ip: ipByIndex[r.index[0]] ?? "",
                             inOctets: counter(r, 7, ifSpec, &extender) ?? counter(r, 3, ifSpec, &extender),
                             outOctets: counter(r, 8, ifSpec, &extender) ?? counter(r, 4, ifSpec, &extender),
                             outErrors: counter(r, 5, ifSpec, &extender))
        }
    }
}
