import Foundation
import NephometerCore
import Testing
import TestSupport

/// The compute agent, as a process, against a real libvirtd with QEMU (TCG) domains when things go
/// wrong on the hypervisor: a QEMU process that stops answering (SIGSTOP), libvirtd restarted under
/// a running agent.
@Suite(.serialized) struct ComputeFaultTests {
    let dir = TemporaryDirectory("compute-faults")
    static let interval = 2.0
    static let deadline = 1.5

    struct Host {
        let daemon: LibvirtDaemon
        let domains: [LibvirtDaemon.Domain]
        let config: String, polling: String, pipeline: String, output: String
    }

    func host(_ name: String) async throws -> Host {
        let daemon = try await LibvirtDaemon.start()
        var domains: [LibvirtDaemon.Domain] = []
        do {
            for i in 1...3 {
                var spec = LibvirtDaemon.DomainSpec(name: "\(name)-\(i)", displayName: "vm-\(i)")
                spec.interfaces = 0
                spec.balloonStatsPeriod = nil
                domains.append(try await daemon.create(spec))
            }
        } catch {
            await daemon.shutdown()
            throw error
        }
        let output = dir.file("\(name)-samples.jsonl")
        let config = try dir.write("\(name).yaml", """
            polling: {jitter: 0}
            compute: {domain_deadline: \(Self.deadline)}
            publisher: {spool_directory: \(dir.file("spool"))}
            """)
        let polling = try dir.write("\(name)-polling.yaml", "sources:\n  - {name: c, interval: \(Int(Self.interval)), meters: [cpu, disk.device.allocation]}\n")
        let pipeline = try dir.write("\(name)-pipeline.yaml", """
            sources: [{name: s, meters: ["*"], sinks: [k]}]
            sinks: [{name: k, publishers: ["file://\(output)"]}]
            """)
        return Host(daemon: daemon, domains: domains, config: config, polling: polling, pipeline: pipeline, output: output)
    }

    func agent(_ h: Host, name: String) throws -> BackgroundProcess {
        try BackgroundProcess(Command.nephometer, [
            "agent", "--namespaces", "compute", "--config", h.config, "--polling", h.polling, "--pipeline", h.pipeline,
            "--libvirt-uri", h.daemon.readOnlyURI, "--host", "fault-host", "--log-level", "debug",
        ], logDirectory: dir.path, name: name)
    }

    struct Polled {
        let uuid: String
        let meter: String
        let volume: Double
        let time: Double
    }

    func samples(_ h: Host) -> [Polled] {
        ((try? String(contentsOfFile: h.output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            guard let v = try? JSONParser.parse(String(line)), let name = v["name"]?.stringValue,
                  let ts = v["timestamp"]?.stringValue.flatMap(Time.parseISO),
                  let id = v["resource_metadata"]?["instance_id"]?.stringValue ?? v["resource_id"]?.stringValue,
                  let vol = v["volume"]?.numberValue?.doubleValue else { return nil }
            return Polled(uuid: id, meter: name, volume: vol, time: ts)
        }
    }

    static func threads(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
    }

    /// `cycle N of interval 2 s: X samples in T s` lines of the agent's debug log.
    static func cycles(_ stderr: String) -> [(samples: Int, seconds: Double)] {
        stderr.split(separator: "\n").compactMap { line in
            guard let r = line.range(of: "of interval \(Int(interval)) s: ") else { return nil }
            let parts = line[r.upperBound...].split(separator: " ")
            guard parts.count >= 4, let n = Int(parts[0]), let t = Double(parts[3]) else { return nil }
            return (n, t)
        }
    }

    @Test func aHungQEMUCostsTheOtherDomainsNothing() async throws {
        let h = try await host("hung")
        defer { h.daemon.stop() }
        let a = try agent(h, name: "agent-hung")
        defer { a.stop() }
        let all = Set(h.domains.map(\.uuid))
        #expect(eventually(timeout: 30) { Set(samples(h).map(\.uuid)) == all }, "\(a.stderr.suffix(3000))")
        let stuck = h.domains[0]
        let qemu = try h.daemon.qemuPID(of: stuck.name)
        let cyclesBefore = Self.cycles(a.stderr).count
        kill(qemu, SIGSTOP)
        let stopped = Date().timeIntervalSince1970
        // Ten cycles with the QEMU stopped; the agent's threads counted all along.
        var threadCounts: [Int] = []
        for _ in 0..<40 {
            try await Task.sleep(for: .milliseconds(500))
            threadCounts.append(Self.threads(a.pid))
        }
        kill(qemu, SIGCONT)
        let resumed = Date().timeIntervalSince1970
        #expect(eventually(timeout: 40) { samples(h).contains { $0.uuid == stuck.uuid && $0.time > resumed } },
                "the stuck domain is polled again by itself after SIGCONT: \(a.stderr.suffix(3000))")
        #expect(a.isRunning)
        a.stop()
        let err = a.stderr
        let polled = samples(h)
        // The other domains were polled in every cycle of the hang, each cycle within the deadline
        // plus normal time.
        let hangCycles = Array(Self.cycles(err).dropFirst(cyclesBefore).prefix(9))
        #expect(hangCycles.count >= 9, "\(err.suffix(3000))")
        for c in hangCycles {
            #expect(c.samples >= 4, "a cycle of the hang polled \(c.samples) sample(s): the other two domains lost theirs")
            #expect(c.seconds <= Self.deadline + 1, "a cycle of the hang took \(c.seconds) s")
        }
        for d in h.domains.dropFirst() {
            let during = polled.filter { $0.uuid == d.uuid && $0.meter == "cpu" && $0.time > stopped + 1 && $0.time < resumed - 1 }
            #expect(during.count >= 8, "\(d.name) was polled \(during.count) time(s) during the hang")
        }
        // No thread left behind per cycle: flat once the stuck calls exist.
        let steady = threadCounts.dropFirst(8)
        #expect((steady.max() ?? 0) - (steady.min() ?? 0) <= 2, "threads over the hang: \(threadCounts)")
        let others = h.domains.dropFirst().map { d in polled.filter { $0.uuid == d.uuid && $0.meter == "cpu" && $0.time > stopped + 1 && $0.time < resumed - 1 }.count }
        print("measured: hang cycles \(hangCycles.map { String(format: "%.2f", $0.seconds) }.joined(separator: " ")) s; samples per cycle \(hangCycles.map(\.samples)); cpu samples of the other domains during the hang \(others); threads \(threadCounts.min() ?? 0)...\(threadCounts.max() ?? 0)")
        // Logged once when it got stuck, once when it came back; no other domain was reported.
        let reported = err.split(separator: "\n").filter { $0.contains("did not answer within") || $0.contains("held by a libvirt job") }
        #expect(reported.count == 1 && reported.first?.contains(stuck.uuid) == true, "\(reported)")
        #expect(err.contains("\(stuck.uuid)) answers again"))
        // A value read before the hang is never published with a later timestamp: no rate spike.
        for d in h.domains {
            let cpu = polled.filter { $0.uuid == d.uuid && $0.meter == "cpu" }.sorted { $0.time < $1.time }
            for (x, y) in zip(cpu, cpu.dropFirst()) where y.time > x.time {
                let rate = (y.volume - x.volume) / (y.time - x.time) / 1e9
                #expect(rate <= 1.2, "\(d.name): cpu grew \(rate) s/s between \(x.time) and \(y.time)")
            }
        }
    }

    @Test func pollOnceNamesTheDomainItCouldNotReadAndFails() async throws {
        let h = try await host("once")
        defer { h.daemon.stop() }
        let stuck = h.domains[1]
        let qemu = try h.daemon.qemuPID(of: stuck.name)
        kill(qemu, SIGSTOP)
        defer { kill(qemu, SIGCONT) }
        let started = Date()
        let r = try Command.nephometer(["poll", "--once", "--namespaces", "compute", "--format", "json", "--config", h.config,
                                        "--polling", h.polling, "--pipeline", h.pipeline, "--libvirt-uri", h.daemon.readOnlyURI],
                                       timeout: 60)
        let took = Date().timeIntervalSince(started)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("could not read \(stuck.uuid)"), "\(r.stderr)")
        #expect(took < 2 * Self.deadline + 5, "poll --once took \(took) s")
        print("measured: poll --once with a hung QEMU took \(String(format: "%.2f", took)) s, exit \(r.status)")
        let printed = Set(r.lines.compactMap { try? JSONParser.parse($0)["resource_id"]?.stringValue })
        for d in h.domains where d.uuid != stuck.uuid {
            #expect(printed.contains(d.uuid) && printed.contains("\(d.uuid)-vda"), "\(d.name) was not polled")
        }
        // Of the stuck domain only what libvirt has without its QEMU monitor: no disk sizes.
        #expect(!printed.contains("\(stuck.uuid)-vda"))
    }

    @Test func libvirtdRestartedUnderARunningAgent() async throws {
        let h = try await host("restart")
        defer { h.daemon.stop() }
        let a = try agent(h, name: "agent-restart")
        defer { a.stop() }
        #expect(eventually(timeout: 30) { samples(h).count >= 6 }, "\(a.stderr.suffix(3000))")
        try await h.daemon.stopDaemon()
        try await Task.sleep(for: .seconds(5))
        #expect(a.isRunning, "the agent died when libvirtd stopped: status \(a.process.isRunning ? 0 : a.process.terminationStatus)")
        try await h.daemon.startDaemon()
        let restarted = Date().timeIntervalSince1970
        #expect(eventually(timeout: 20) { samples(h).contains { $0.time > restarted } })
        let first = samples(h).filter { $0.time > restarted }.map(\.time).min() ?? .infinity
        #expect(first - restarted <= 2 * Self.interval + 0.5, "polling resumed \(first - restarted) s after libvirtd was back")
        print("measured: first sample \(String(format: "%.2f", first - restarted)) s after libvirtd was back")
        #expect(a.isRunning)
        a.stop()
        #expect(a.process.terminationStatus == 0)
        let err = a.stderr
        #expect(err.components(separatedBy: "reconnecting every").count - 1 == 1, "one line for the outage: \(err.suffix(3000))")
        #expect(err.components(separatedBy: "restored after").count - 1 == 1)
    }
}
