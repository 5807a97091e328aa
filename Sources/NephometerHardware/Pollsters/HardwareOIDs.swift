/// The OIDs the hardware meters read (UCD-SNMP-MIB, IF-MIB, IP-MIB, SNMPv2-MIB).
enum HardwareOIDs {
    static let ucd: OID = [1, 3, 6, 1, 4, 1, 2021]
    static func ucd(_ rest: UInt...) -> OID { ucd + rest }
    static let mib2: OID = [1, 3, 6, 1, 2, 1]
    static func mib2(_ rest: UInt...) -> OID { mib2 + rest }

    static let sysUpTime = mib2(1, 3, 0)
    static let load1 = ucd(10, 1, 3, 1), load5 = ucd(10, 1, 3, 2), load15 = ucd(10, 1, 3, 3)
    static let cpuUtil = ucd(11, 9, 0), cpuIdlePercent = ucd(11, 11, 0)
    static func cpuRaw(_ n: UInt) -> OID { ucd(11, n, 0) }
    static let ioSent = ucd(11, 57, 0), ioReceived = ucd(11, 58, 0)
    static let memTotal = ucd(4, 5, 0), memAvail = ucd(4, 6, 0)
    static let swapTotal = ucd(4, 3, 0), swapAvail = ucd(4, 4, 0)
    static let memBuffer = ucd(4, 14, 0), memCached = ucd(4, 15, 0)
    static let ipInReceives = mib2(4, 3, 0), ipOutRequests = mib2(4, 10, 0)

    static let dskEntry = ucd(9, 1)
    static let diskIOEntry = ucd(13, 15, 1, 1)
    static let ifEntry = mib2(2, 2, 1)
    static let ifXEntry = mib2(31, 1, 1, 1)
    static let ipAdEntIfIndex = mib2(4, 20, 1, 2)
}

/// The tables the hardware meters walk, and their columns (positions are used by the snapshot).
enum HardwareTable: Int, Sendable, Hashable, CaseIterable {
    case disks, diskIO, interfaces, ipAddresses

    var spec: TableSpec {
        switch self {
        case .disks:
            // dskPath, dskDevice, dskTotal, dskUsed, dskTotalLow, dskTotalHigh, dskUsedLow, dskUsedHigh
            return TableSpec(name: "dskTable", columns: [2, 3, 6, 8, 11, 12, 15, 16].map { HardwareOIDs.dskEntry + [$0] })
        case .diskIO:
            // diskIODevice, diskIONRead, diskIONWritten, diskIOReads, diskIOWrites, diskIONReadX, diskIONWrittenX
            return TableSpec(name: "diskIOTable", columns: [2, 3, 4, 5, 6, 12, 13].map { HardwareOIDs.diskIOEntry + [$0] })
        case .interfaces:
            // ifDescr, ifSpeed, ifPhysAddress, ifInOctets, ifOutOctets, ifOutErrors,
            // ifName, ifHCInOctets, ifHCOutOctets, ifHighSpeed
            return TableSpec(name: "ifTable+ifXTable",
                             columns: [2, 5, 6, 10, 16, 20].map { HardwareOIDs.ifEntry + [$0] }
                                 + [1, 6, 10, 15].map { HardwareOIDs.ifXEntry + [$0] })
        case .ipAddresses:
            return TableSpec(name: "ipAddrTable", columns: [HardwareOIDs.ipAdEntIfIndex])
        }
    }
}
