import Foundation
import NephometerCore
import Testing
import TestSupport

/// `nephometer poll --namespaces central` against a real snmpd, v2c and v3 authPriv.
@Suite(.serialized) struct CentralAgentTests {
    @Test func pollsHardwareMetersFromStaticSNMPResources() throws {
        let snmpd = try SNMPDaemon()
        defer { snmpd.stop() }
        let dir = TemporaryDirectory("central")
        let polling = try dir.write("polling.yaml", """
        sources:
          - name: hardware
            interval: 60
            meters: ["hardware.memory.total", "hardware.cpu.load.1min", "hardware.network.incoming.bytes"]
            resources: ["\(snmpd.v2cURL)", "\(snmpd.v3URL)"]
        """)
        let pipeline = try dir.write("pipeline.yaml", "sources:\n  - {name: s, meters: ['*'], sinks: [k]}\nsinks:\n  - {name: k, publishers: ['file://\(dir.file("x.log"))']}\n")
        let r = try Command.nephometer(["poll", "--namespaces", "central", "--once", "--format", "json",
                                        "--polling", polling, "--pipeline", pipeline])
        #expect(r.status == 0, "\(r.stderr)")
        let samples = try r.lines.map { try JSONParser.parse($0) }
        let total = samples.filter { $0["name"] == .string("hardware.memory.total") }
        // One host answering through two URLs (v2c and v3): two samples, same resource id.
        #expect(total.count == 2)
        #expect(total.allSatisfy { $0["resource_id"] == .string("127.0.0.1") && $0["source"] == .string("hardware") && $0["unit"] == .string("KB") })
        #expect(samples.contains { $0["name"] == .string("hardware.network.incoming.bytes") && ($0["resource_id"]?.stringValue ?? "").hasPrefix("127.0.0.1.") })
        // Credentials never leave: not in samples, not in logs.
        for secret in [snmpd.community, snmpd.authPassword, snmpd.privPassword] {
            #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret), "\(secret) leaked")
        }
        #expect(total.allSatisfy { ($0["resource_metadata"]?["resource_url"]?.stringValue ?? "").hasPrefix("snmp://127.0.0.1:\(snmpd.port)") })
    }
}
