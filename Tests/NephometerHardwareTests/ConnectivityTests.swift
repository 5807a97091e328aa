import Foundation
import NephometerCore
import NephometerHardware
import Testing
import TestSupport

@Suite struct ConnectivityTests {
    @Test func v3AuthPrivMatchesV2c() async throws {
        let d = try SNMPDaemon()
        let log = LogCapture()
        let family = HardwareFamily(options: .init(), enabled: ["hardware.memory.total", "hardware.network.incoming.bytes"], logger: log.logger)
        let samples = try await pollAll(family, [d.v3URL])
        let total = try #require(samples.first { $0.name == "hardware.memory.total" })
        let r = try Command.run("snmpget", ["-v3", "-l", "authPriv", "-u", d.user, "-a", "SHA", "-A", d.authPassword, "-x", "AES",
                                            "-X", d.privPassword, "-On", "-Oqv", d.address, ".1.3.6.1.4.1.2021.4.5.0"],
                                environment: ["MIBS": ""])
        #expect(total.volume == .int(Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1))
        #expect(samples.contains { $0.name == "hardware.network.incoming.bytes" && $0.resourceID == "127.0.0.1.lo" })
        #expect(total.resourceMetadata["resource_url"] == .string("snmp://127.0.0.1:\(d.port)?auth_proto=sha&priv_proto=aes128"))
        for line in log.all { #expect(!line.contains(d.authPassword) && !line.contains(d.privPassword)) }
    }

    @Test(arguments: ["wrong-auth", "wrong-user"])
    func wrongCredentialsAreAClearError(_ which: String) async throws {
        let d = try SNMPDaemon()
        let log = LogCapture()
        let family = HardwareFamily(options: .init(), enabled: ["hardware.memory.total"], logger: log.logger)
        let user = which == "wrong-user" ? "nobodyhere" : d.user
        let secret = "wrongpass99"
        let auth = which == "wrong-auth" ? secret : d.authPassword
        let url = "snmp://\(user):\(auth)@127.0.0.1:\(d.port)?auth_proto=sha&priv_proto=aes&priv_password=\(d.privPassword)&timeout=0.5&retries=0"
        let samples = try await pollAll(family, [url])
        #expect(samples.isEmpty)
        let stats = try #require(family.hostStatistics.first)
        #expect(stats.up == false && stats.errors + stats.timeouts == 1)
        let error = try #require(stats.lastError)
        let clear = ["Unknown user", "Authentication failure", "rejected the SNMPv3 credentials", "refused"]
        #expect(clear.contains { error.contains($0) }, "\(error)")
        let warnings = log.messages(.warning)
        #expect(warnings.count == 1 && warnings[0].contains("is down"))
        for line in log.all + [error] { #expect(!line.contains(secret) && !line.contains(d.privPassword), "\(line)") }
    }

    @Test func unreachableHostIsAClearTimeout() async throws {
        let port = try SNMPDaemon.freeUDPPort()
        let log = LogCapture()
        let family = HardwareFamily(options: .init(), enabled: ["hardware.memory.total"], logger: log.logger)
        let samples = try await pollAll(family, ["snmp://127.0.0.1:\(port)?timeout=0.2&retries=1"])
        #expect(samples.isEmpty)
        let stats = try #require(family.hostStatistics.first)
        #expect(stats.up == false && stats.timeouts == 1)
        #expect(stats.lastError?.contains("timed out") == true, "\(stats.lastError ?? "")")
        #expect(stats.lastError?.contains("127.0.0.1:\(port)") == true)
    }

    /// A black-holed host among live ones: the live hosts answer within their own time, the cycle
    /// ends at the black hole's deadline (not later), and the outage is logged once, its end once.
    @Test func blackHoledHostCostsOnlyItsOwnSamples() async throws {
        let d = try SNMPDaemon()
        let hole = try #require(BoundUDPSocket.open())
        defer { hole.close() }
        let log = LogCapture()
        let family = HardwareFamily(options: .init(), enabled: ["hardware.memory.total", "hardware.network.incoming.bytes"], logger: log.logger)
        let live = (0..<6).map { "snmp://\(d.community)@127.0.0.1:\(d.port)?retries=\($0)" }
        let dead = "snmp://\(d.community)@127.0.0.1:\(hole.port)?timeout=1&retries=1"
        for cycle in 1...2 {
            let start = Date()
            let samples = try await pollAll(family, [dead] + live)
            let elapsed = Date().timeIntervalSince(start)
            #expect(samples.filter { $0.name == "hardware.memory.total" }.count == live.count, "cycle \(cycle)")
            #expect(samples.allSatisfy { $0.resourceMetadata["resource_url"] != .string("snmp://127.0.0.1:\(hole.port)?timeout=1&retries=1") })
            #expect(elapsed < 2 * 1.0 + 1.5, "the cycle waits for the black hole's own deadline only (\(elapsed) s)")
            for s in family.hostStatistics where !s.resource.contains("\(hole.port)") {
                #expect(s.up == true && (s.lastPollSeconds ?? 9) < 0.5, "live host \(s.resource): \(s.lastPollSeconds ?? -1) s")
            }
        }
        let deadStats = try #require(family.hostStatistics.first { $0.resource.contains("\(hole.port)") })
        #expect(deadStats.timeouts == 2 && deadStats.up == false)
        #expect(log.messages(.warning).filter { $0.contains("is down") }.count == 1, "one line per state change, not per cycle")
    }

    /// Silent hosts do not hold back answering ones. With a window of one host and four silent hosts
    /// (0.5 s × 3 attempts each) ahead of the answering ones: in the first cycle, when nothing is known,
    /// each silent host gives its window slot up after one timeout (4 × 0.5 s, not 4 × 1.5 s); in the
    /// next, hosts silent last cycle are polled in a lane of their own and delay nobody.
    @Test func silentHostsDoNotHoldBackAnsweringOnes() async throws {
        let d = try SNMPDaemon()
        let holes = (0..<4).compactMap { _ in BoundUDPSocket.open() }
        defer { holes.forEach { $0.close() } }
        #expect(holes.count == 4)
        let family = HardwareFamily(options: .init(maxInFlight: 1), enabled: ["hardware.memory.total"], logger: LogCapture().logger)
        let dead = holes.map { "snmp://127.0.0.1:\($0.port)?timeout=0.5&retries=2" }
        let live = (0..<2).map { "snmp://\(d.community)@127.0.0.1:\(d.port)?retries=\($0)" }
        func answeringDone(after start: Double) -> Double {
            family.hostStatistics.filter { $0.up == true }.compactMap(\.lastPollEnded).max().map { $0 - start } ?? 99
        }
        var start = Time.monotonic()
        var samples = try await pollAll(family, dead + live)
        #expect(samples.count == 2)
        let first = answeringDone(after: start)
        #expect(first >= 1.9 && first < 3.5, "first cycle: one timeout per silent host in the window (\(first) s)")
        start = Time.monotonic()
        samples = try await pollAll(family, dead + live)
        let elapsed = Time.monotonic() - start
        #expect(samples.count == 2)
        #expect(answeringDone(after: start) < 0.4, "second cycle: answering hosts are done at once (\(answeringDone(after: start)) s)")
        #expect(elapsed < 2.2, "the silent hosts time out together (\(elapsed) s)")
        #expect(family.hostStatistics.filter { $0.up == false }.count == 4)
    }

    @Test func badAndLiveResourcesTogether() async throws {
        let d = try SNMPDaemon()
        let log = LogCapture()
        let family = HardwareFamily(options: .init(), enabled: ["hardware.memory.total"], logger: log.logger)
        let bad = "snmp://admin:hunter2hunter2@10.0.0.1?auth_proto=md4"
        for _ in 0..<2 {
            let samples = try await pollAll(family, [bad, d.v2cURL, "not a url"])
            #expect(samples.map(\.resourceID) == ["127.0.0.1"])
        }
        let errors = log.messages(.error)
        #expect(errors.count == 2, "each bad URL logged once: \(errors)")
        #expect(errors.contains { $0.contains("snmp://admin:***@10.0.0.1") && $0.contains("auth_proto") })
        for line in log.all { #expect(!line.contains("hunter2")) }
    }
}
