import Foundation
import NephometerCore
import NephometerHardware
import Testing
import TestSupport

/// Every meter against what snmpbulkwalk/snmpget read from the same snmpd in the same test.
@Suite struct MeterValueTests {
    static let ucd = "1.3.6.1.4.1.2021"
    static let subtrees = ["\(ucd).10.1.3", "\(ucd).11", "\(ucd).4", "\(ucd).9.1", "\(ucd).13.15.1.1",
                           "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1", "1.3.6.1.2.1.4.20.1.2"]
    static let scalars = ["1.3.6.1.2.1.4.3.0", "1.3.6.1.2.1.4.10.0"]

    @Test func everyMeterMatchesNetSNMPTools() async throws {
        let d = try SNMPDaemon()
        let log = LogCapture()
        let family = allMeters(log.logger)
        let before = try Walk.read(d, subtrees: Self.subtrees, scalars: Self.scalars)
        let samples = try await pollAll(family, [d.v2cURL])
        let after = try Walk.read(d, subtrees: Self.subtrees, scalars: Self.scalars)
        let host = "127.0.0.1"

        // Between two readings (counters and gauges that move), or equal to one of them.
        func within(_ v: Double, _ oid: String, slack: Double = 0, _ comment: String) {
            guard let b = before[oid].flatMap(Double.init), let a = after[oid].flatMap(Double.init) else {
                Issue.record("\(comment): \(oid) not read by the tools")
                return
            }
            let lo = min(a, b), hi = max(a, b)
            #expect(v >= lo - slack * lo && v <= hi + slack * hi, "\(comment): \(v) not in [\(lo), \(hi)] (\(oid))")
        }
        func of(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

        // Host-level scalars.
        let scalarMeters: [(String, String, Double)] = [
            ("hardware.cpu.util", "\(Self.ucd).11.9.0", 0), ("hardware.system_stats.cpu.idle", "\(Self.ucd).11.11.0", 0),
            ("hardware.cpu.user", "\(Self.ucd).11.50.0", 0), ("hardware.cpu.nice", "\(Self.ucd).11.51.0", 0),
            ("hardware.cpu.system", "\(Self.ucd).11.52.0", 0), ("hardware.cpu.idle", "\(Self.ucd).11.53.0", 0),
            ("hardware.cpu.wait", "\(Self.ucd).11.54.0", 0), ("hardware.cpu.kernel", "\(Self.ucd).11.55.0", 0),
            ("hardware.cpu.interrupt", "\(Self.ucd).11.56.0", 0),
            ("hardware.memory.total", "\(Self.ucd).4.5.0", 0), ("hardware.memory.swap.total", "\(Self.ucd).4.3.0", 0),
            ("hardware.memory.swap.avail", "\(Self.ucd).4.4.0", 0.01), ("hardware.memory.buffer", "\(Self.ucd).4.14.0", 0.01),
            ("hardware.memory.cached", "\(Self.ucd).4.15.0", 0.01),
            ("hardware.network.ip.incoming.datagrams", "1.3.6.1.2.1.4.3.0", 0),
            ("hardware.network.ip.outgoing.datagrams", "1.3.6.1.2.1.4.10.0", 0),
            ("hardware.system_stats.io.outgoing.blocks", "\(Self.ucd).11.57.0", 0),
            ("hardware.system_stats.io.incoming.blocks", "\(Self.ucd).11.58.0", 0),
        ]
        for (name, oid, slack) in scalarMeters {
            let got = of(name)
            if before[oid] == nil && after[oid] == nil {
                #expect(got.isEmpty, "\(name): the agent has no \(oid), yet a sample was produced")
                continue
            }
            try #require(got.count == 1, "\(name): expected one sample, got \(got.count)")
            within(got[0].volume.doubleValue, oid, slack: slack, name)
            #expect(got[0].volume.isInteger, "\(name) is an int in Ceilometer")
        }
        let loads = [("hardware.cpu.load.1min", 1), ("hardware.cpu.load.5min", 2), ("hardware.cpu.load.15min", 3)]
        for (name, n) in loads {
            let got = of(name)
            try #require(got.count == 1, "\(name)")
            let oid = "\(Self.ucd).10.1.3.\(n)"
            #expect(!got[0].volume.isInteger, "load is float(str(x)) in Ceilometer")
            // The load moves between the two reads: the sample lies between them.
            let bounds = [before[oid], after[oid]].compactMap { $0.flatMap { Double($0) } }
            #expect(bounds.count == 2 && (bounds.min() ?? 0)...(bounds.max() ?? 0) ~= got[0].volume.doubleValue, "\(name)")
        }
        let used = try #require(of("hardware.memory.used").first)
        let total = try #require(before.int("\(Self.ucd).4.5.0"))
        let availA = try #require(before.int("\(Self.ucd).4.6.0")), availB = try #require(after.int("\(Self.ucd).4.6.0"))
        let usedV = Int64(used.volume.doubleValue)
        let slack = total / 100
        #expect(usedV >= total - max(availA, availB) - slack && usedV <= total - min(availA, availB) + slack, "memory.used = total − memAvailReal")

        for s in samples where s.resourceID == host {
            #expect(s.resourceMetadata.keys == ["resource_url"], "\(s.name) metadata")
        }

        // Disks (dskTable): resource id <host>.<device>, metadata path, device.
        let disks = before.indexes("\(Self.ucd).9.1.3")
        try #require(!disks.isEmpty, "snmpd's `disk /` gives a dskTable row")
        for i in disks {
            let device = try #require(before["\(Self.ucd).9.1.3.\(i)"])
            let id = "\(host).\(device)"
            for (name, col, slack) in [("hardware.disk.size.total", 6, 0.0), ("hardware.disk.size.used", 8, 0.01)] {
                let s = try #require(of(name).first { $0.resourceID == id }, "\(name) for \(id)")
                within(s.volume.doubleValue, "\(Self.ucd).9.1.\(col).\(i)", slack: slack, name)
                #expect(s.resourceMetadata.keys == ["path", "device", "resource_url", "resource_id"])
                #expect(s.resourceMetadata["path"] == .string(before["\(Self.ucd).9.1.2.\(i)"] ?? "?"))
                #expect(s.resourceMetadata["device"] == .string(device))
                #expect(s.resourceMetadata["resource_id"] == .string(id))
            }
        }

        // Disk IO (diskIOTable): per-disk ids from diskIODevice (Ceilometer 18 produced none or bare ids).
        let ioRows = before.indexes("\(Self.ucd).13.15.1.1.2")
        try #require(!ioRows.isEmpty)
        for i in ioRows {
            let device = try #require(before["\(Self.ucd).13.15.1.1.2.\(i)"])
            let id = "\(host).\(device)"
            let cols = [("hardware.disk.read.bytes", before["\(Self.ucd).13.15.1.1.12.\(i)"] != nil ? 12 : 3),
                        ("hardware.disk.write.bytes", before["\(Self.ucd).13.15.1.1.13.\(i)"] != nil ? 13 : 4),
                        ("hardware.disk.read.requests", 5), ("hardware.disk.write.requests", 6)]
            for (name, col) in cols {
                let s = try #require(of(name).first { $0.resourceID == id }, "\(name) for \(id)")
                within(s.volume.doubleValue, "\(Self.ucd).13.15.1.1.\(col).\(i)", name)
                #expect(s.resourceMetadata.keys == ["device", "resource_url", "resource_id"])
                #expect(s.resourceMetadata["device"] == .string(device))
            }
        }
        #expect(of("hardware.disk.read.bytes").count == ioRows.count)

        // Interfaces: <host>.<ifName>, ifHC* octets, metadata name, speed, mac, ip.
        let ifs = before.indexes("1.3.6.1.2.1.2.2.1.2")
        try #require(!ifs.isEmpty)
        var ipOf: [String: String] = [:]
        for ip in before.indexes("1.3.6.1.2.1.4.20.1.2") { ipOf[before["1.3.6.1.2.1.4.20.1.2.\(ip)"] ?? ""] = ip }
        for i in ifs {
            let name = before["1.3.6.1.2.1.31.1.1.1.1.\(i)"] ?? before["1.3.6.1.2.1.2.2.1.2.\(i)"] ?? "?"
            let id = "\(host).\(name)"
            let hc = before["1.3.6.1.2.1.31.1.1.1.6.\(i)"] != nil
            for (meter, oid) in [("hardware.network.incoming.bytes", hc ? "1.3.6.1.2.1.31.1.1.1.6.\(i)" : "1.3.6.1.2.1.2.2.1.10.\(i)"),
                                 ("hardware.network.outgoing.bytes", hc ? "1.3.6.1.2.1.31.1.1.1.10.\(i)" : "1.3.6.1.2.1.2.2.1.16.\(i)"),
                                 ("hardware.network.outgoing.errors", "1.3.6.1.2.1.2.2.1.20.\(i)")] {
                let s = try #require(of(meter).first { $0.resourceID == id }, "\(meter) for \(id)")
                within(s.volume.doubleValue, oid, meter)
                #expect(s.type == .cumulative)
                #expect(s.resourceMetadata.keys == ["name", "speed", "mac", "ip", "resource_url", "resource_id"])
                #expect(s.resourceMetadata["name"] == .string(name))
                #expect(s.resourceMetadata["mac"] == .string(before["1.3.6.1.2.1.2.2.1.6.\(i)"] ?? "?"))
                #expect(s.resourceMetadata["ip"] == .string(ipOf[i] ?? ""))
                let speed = try #require(before.int("1.3.6.1.2.1.2.2.1.5.\(i)"))
                #expect(s.resourceMetadata["speed"] == .double(Double(speed) / 8))
            }
        }

        // Common fields, and one read of the host for all 31 pollsters.
        for s in samples {
            #expect(s.source == "hardware")
            #expect(s.userID == nil && s.projectID == nil)
            #expect(s.resourceMetadata["resource_url"] == .string("snmp://127.0.0.1:\(d.port)"), "no community in metadata")
        }
        #expect(family.hostStatistics.map(\.polls) == [1])
        #expect(log.messages(.error).isEmpty && log.messages(.warning).isEmpty)
    }
}
