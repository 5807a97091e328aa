import Foundation
import NephometerCore
import Testing
import TestSupport

/// SIGHUP on a running agent: a valid change applies only what changed, and everything unchanged
/// keeps its state (schedule phase, transformer state, byte deltas, publishers and their spools,
/// group membership, SNMP sessions); an invalid change keeps the running configuration.
@Suite(.serialized) struct ReloadTests {
    let dir = TemporaryDirectory("reload")

    /// Fractional part of a timestamp's position within `interval`.
    func phase(_ t: Double, _ interval: Double) -> Double { t.truncatingRemainder(dividingBy: interval) }

    func samples(_ path: String, _ name: String, after t: Double = 0) -> [(ts: Double, resource: String, volume: Double)] {
        jsonLines(path).compactMap { v in
            guard v["name"]?.stringValue == name, let ts = v["timestamp"]?.stringValue.flatMap(Time.parseISO), ts > t,
                  let r = v["resource_id"]?.stringValue, let vol = v["volume"]?.numberValue?.doubleValue else { return nil }
            return (ts, r, vol)
        }
    }

    @Test func aComputeReloadKeepsPhaseTransformerStateDeltasSpoolsAndMembership() throws {
        let node = LibvirtTestNode.uniform(count: 3, disks: 1, interfaces: 1)
        let uri = try node.write(to: dir.file("node.xml"))
        let out = dir.file("out.jsonl"), util = dir.file("util.jsonl"), extra = dir.file("extra.jsonl")
        let dead = try FreePort.tcp()
        let deadURL = "http://127.0.0.1:\(dead)/x?timeout=1&max_retries=0"
        let pollingV1 = "sources:\n  - {name: c, interval: 2, meters: [cpu, network.incoming.bytes.delta]}\n"
        let pipelineV1 = """
            sources:
              - {name: all, meters: ["*"], sinks: [out, spool]}
              - {name: cpu, meters: [cpu], sinks: [util]}
            sinks:
              - {name: out, publishers: ["file://\(out)"]}
              - {name: spool, publishers: ["\(deadURL)"]}
              - name: util
                transformers:
                  - name: rate_of_change
                    parameters: {target: {name: cpu_util, unit: "%", type: gauge, scale: "100.0 / (10**9 * (resource_metadata.cpu_number or 1))"}}
                publishers: ["file://\(util)"]

            """
        let polling = try dir.write("polling.yaml", pollingV1)
        let pipeline = try dir.write("pipeline.yaml", pipelineV1)
        let agentFile = try dir.write("agent.yaml", "polling: {jitter: 0}\npublisher: {spool_directory: \(dir.file("spool"))}\n")
        let a = try RunningAgent("compute", dir: dir, args: ["--namespaces", "compute", "--config", agentFile, "--libvirt-uri", uri,
                                                            "--polling", polling, "--pipeline", pipeline, "--host", "reload-host",
                                                            "--coordination-url", "file://\(dir.file("group"))"])
        defer { a.process.stop() }
        #expect(eventually(timeout: 20) { samples(util, "cpu_util").count >= 6 }, "\(a.process.stderr.suffix(1500))")
        // One page: a range found in one response does not index another (the page changes between two).
        let memberBefore = try memberID(a.get("/status").body)
        let spoolWritesBefore = try #require(try a.metric(#"nephometer_publisher_spool_writes_total{publisher="\#(deadURL)"}"#))
        let phaseBefore = try #require(samples(out, "cpu").last.map { phase($0.ts, 2) })

        // A new source and a new sink next to unchanged ones.
        try dir.write("polling.yaml", pollingV1 + "  - {name: m, interval: 3, meters: [memory.usage]}\n")
        try dir.write("pipeline.yaml", pipelineV1.replacingOccurrences(of: "sinks:\n  - {name: out", with: "  - {name: mem, meters: [memory.usage], sinks: [extra]}\nsinks:\n  - {name: extra, publishers: [\"file://\(extra)\"]}\n  - {name: out"))
        let reloadedAt = Date().timeIntervalSince1970
        #expect(a.reload() == true, "\(a.process.stderr.suffix(1500))")
        #expect(eventually(timeout: 20) { samples(extra, "memory.usage").count >= 3 && samples(out, "cpu", after: reloadedAt + 4.5).count >= 3 },
                "the new source and sink run: \(a.process.stderr.suffix(1500))")

        // Phase: the unchanged 2 s source fires at the same offset as before.
        for s in samples(out, "cpu", after: reloadedAt) {
            let drift = abs(phase(s.ts, 2) - phaseBefore)
            #expect(min(drift, 2 - drift) < 0.25, "cpu polled at phase \(phase(s.ts, 2)), was \(phaseBefore)")
        }
        // Transformer state: the first cpu after the reload already yields cpu_util (rate_of_change
        // needs a previous value); every cycle after the reload has one per domain.
        let cpuAfter = samples(out, "cpu", after: reloadedAt)
        let utilAfter = samples(util, "cpu_util", after: reloadedAt)
        let firstCycle = try #require(cpuAfter.map(\.ts).min())
        #expect(Set(utilAfter.filter { abs($0.ts - firstCycle) < 0.5 }.map(\.resource)) == Set(node.domains.map(\.uuid)),
                "cpu_util in the first cycle after the reload")
        // Byte deltas: the compute family kept its previous counters, so no delta after the reload is a first (0).
        let deltas = samples(out, "network.incoming.bytes.delta", after: reloadedAt)
        #expect(!deltas.isEmpty && deltas.allSatisfy { $0.volume > 0 }, "\(deltas.map(\.volume))")
        // The publisher and its spool were kept: no second outage line, nothing "from a previous run",
        // its counters continue.
        #expect(a.logged("cannot reach") == 1, "\(a.process.stderr)")
        #expect(a.logged("from a previous run") == 0)
        #expect(try a.metric(#"nephometer_publisher_spool_writes_total{publisher="\#(deadURL)"}"#) ?? 0 > spoolWritesBefore)
        // Membership unchanged.
        // One page: a range found in one response does not index another (the page changes between two).
        let memberAfter = try memberID(a.get("/status").body)
        #expect(memberBefore != nil && memberAfter == memberBefore)
        #expect(a.logged("joined partitioning group") == 1 && a.logged("left partitioning group") == 0)
        #expect(try a.metric(#"nephometer_reloads_total{result="success"}"#) == 1)

        // An invalid change: every error is logged with its position, the running configuration stays.
        try dir.write("polling.yaml", pollingV1 + "  - {name: m, interval: -3, meterz: [memory.usage]}\n")
        let failedAt = Date().timeIntervalSince1970
        #expect(a.reload() == false)
        #expect(a.process.stderr.contains("reload failed; keeping the running configuration"))
        #expect(a.process.stderr.contains("\(polling):3:"), "positions of the errors: \(a.process.stderr.suffix(1500))")
        #expect(a.process.stderr.contains("meterz") && a.process.stderr.contains("did you mean 'meters'"))
        #expect(a.process.stderr.contains("interval"))
        #expect(eventually(timeout: 20) { samples(extra, "memory.usage", after: failedAt + 0.5).count >= 3 && samples(util, "cpu_util", after: failedAt + 0.5).count >= 6 },
                "the running configuration keeps polling")
        #expect(try a.metric(#"nephometer_reloads_total{result="failure"}"#) == 1)
        #expect(try a.metric(#"nephometer_reloads_total{result="success"}"#) == 1)
        #expect(try a.get("/status").body.contains("1 succeeded, 1 failed"))

        // A changed compute section builds a new family: its first deltas are firsts (0), as at a start.
        try dir.write("polling.yaml", pollingV1)
        try dir.write("agent.yaml", "polling: {jitter: 0}\npublisher: {spool_directory: \(dir.file("spool"))}\ncompute: {domain_deadline: 9}\n")
        let rebuiltAt = Date().timeIntervalSince1970
        #expect(a.reload() == true, "\(a.process.stderr.suffix(1500))")
        #expect(eventually(timeout: 10) { samples(out, "network.incoming.bytes.delta", after: rebuiltAt).count >= 6 })
        let fresh = samples(out, "network.incoming.bytes.delta", after: rebuiltAt).sorted { $0.ts < $1.ts }
        #expect(fresh.prefix(3).allSatisfy { $0.volume == 0 } && fresh.dropFirst(3).allSatisfy { $0.volume > 0 }, "\(fresh.map(\.volume))")
    }

    /// The central family keeps its SNMP sessions (and the v3 engine id they learned) across a reload
    /// that does not change the `hardware:` section; a changed section builds a new family.
    @Test func aCentralReloadKeepsSNMPSessionsUnlessTheHardwareSectionChanges() throws {
        let snmpd = try SNMPDaemon()
        defer { snmpd.stop() }
        let out = dir.file("central.jsonl")
        let polling = try dir.write("central-polling.yaml", """
            sources:
              - {name: hw, interval: 1, meters: ["hardware.memory.total", "hardware.cpu.load.1min"], resources: ["\(snmpd.v3URL)"]}

            """)
        let pipelineV1 = "sources: [{name: s, meters: ['*'], sinks: [k]}]\nsinks: [{name: k, publishers: ['file://\(out)']}]\n"
        let pipeline = try dir.write("central-pipeline.yaml", pipelineV1)
        let agentV1 = "polling: {jitter: 0}\nhardware: {timeout: 2, retries: 1}\n"
        let agentFile = try dir.write("central-agent.yaml", agentV1)
        /// snmpd's count of v3 requests with an unknown engine id: one per engine-id discovery.
        func discoveries() throws -> Int {
            let r = try Command.run("snmpget", ["-v2c", "-c", snmpd.community, "-Oqv", snmpd.address, "1.3.6.1.6.3.15.1.1.4.0"])
            return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let before = try discoveries()
        let a = try RunningAgent("central", dir: dir, args: ["--namespaces", "central", "--config", agentFile, "--polling", polling, "--pipeline", pipeline])
        defer { a.process.stop() }
        #expect(eventually(timeout: 20) { (try? a.metric("nephometer_snmp_polls_total")).flatMap { $0 } ?? 0 >= 3 }, "\(a.process.stderr.suffix(1500))")
        let learned = try discoveries()
        #expect(learned == before + 1, "one discovery for the v3 host")
        let polls = try #require(try a.metric("nephometer_snmp_polls_total"))

        // A pipeline change only: the family, its host statistics and sessions stay.
        try dir.write("central-pipeline.yaml", pipelineV1.replacingOccurrences(of: "meters: ['*']", with: "meters: ['hardware.*']"))
        #expect(a.reload() == true, "\(a.process.stderr.suffix(1500))")
        Thread.sleep(forTimeInterval: 3)
        #expect(try a.metric("nephometer_snmp_polls_total") ?? 0 >= polls + 2, "the poll count continues")
        #expect(try discoveries() == learned, "no new engine-id discovery")

        // A changed hardware section builds a new family: new sessions discover the engine id again.
        try dir.write("central-agent.yaml", agentV1.replacingOccurrences(of: "timeout: 2", with: "timeout: 3"))
        let changedAt = Date().timeIntervalSince1970
        #expect(a.reload() == true, "\(a.process.stderr.suffix(1500))")
        #expect(eventually(timeout: 10) { jsonLines(out).contains { ($0["timestamp"]?.stringValue.flatMap(Time.parseISO) ?? 0) > changedAt + 1 } })
        #expect(try discoveries() == learned + 1)
        // The new family's own count starts over (the status page's host table); the exported counter
        // keeps counting every poll of the process.
        let page = try a.get("/status").body
        let row = try #require(page.range(of: #"<td>[^<]*127\.0\.0\.1[^<]*</td><td>up</td><td>[0-9]+</td>"#, options: .regularExpression).map { String(page[$0]) }, "\(page)")
        let familyPolls = try #require(Double(row.replacingOccurrences(of: #".*<td>([0-9]+)</td>$"#, with: "$1", options: .regularExpression)))
        #expect(familyPolls < polls + 2, "a new family counts from zero: \(row)")
        #expect(try a.metric("nephometer_snmp_polls_total") ?? 0 > polls + familyPolls)

        // Ceilometer's exporter is set up at start: a reload that turns it on says so and serves nothing.
        let exporterPort = try FreePort.tcp()
        try dir.write("central-agent.yaml", agentV1.replacingOccurrences(of: "timeout: 2", with: "timeout: 3")
            .replacingOccurrences(of: "polling: {jitter: 0}", with: "polling: {jitter: 0, enable_prometheus_exporter: true, prometheus_listen_addresses: ['127.0.0.1:\(exporterPort)']}"))
        #expect(a.reload() == true, "\(a.process.stderr.suffix(1500))")
        #expect(a.logged("the Prometheus exporter's settings changed") == 1, "\(a.process.stderr.suffix(1500))")
        #expect(try Command.run("curl", ["-s", "--max-time", "3", "http://127.0.0.1:\(exporterPort)/metrics"]).status != 0, "not served before a restart")
    }
}


/// The member id shown on `/status`, or nil.
private func memberID(_ page: String) -> String? {
    page.range(of: #"member-id">[^<]+"#, options: .regularExpression).map { String(page[$0]) }
}
