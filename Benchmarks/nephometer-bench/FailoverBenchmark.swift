import Foundation
import NephometerCore
import TestSupport

/// Time from a signal to one of three agents (sharing a compute group on etcd) until a survivor polled
/// the last of the domains the victim had (then every domain is polled by exactly one survivor), over several trials per signal: SIGKILL (the survivors wait
/// for the lease TTL) and SIGTERM (the agent leaves its groups while it stops: no wait for the TTL).
enum FailoverBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let trials = option(args, "trials", default: 10)
        let ttl = option(args, "ttl", default: 3)
        let signals = option(args, "signals", default: "KILL,TERM").split(separator: ",").map(String.init)
        let binary = args.firstIndex(of: "--nephometer").flatMap { args.index(after: $0) < args.endIndex ? args[args.index(after: $0)] : nil }
            ?? Fixtures.root.appendingPathComponent(".build/release/nephometer").path
        let dir = TemporaryDirectory("failover-bench")
        let etcd = try EtcdDaemon()
        let node = LibvirtTestNode.uniform(count: 30, disks: 1, interfaces: 0)
        let uri = try node.write(to: dir.file("node.xml"))
        let all = Set(node.domains.map(\.uuid))
        let polling = try dir.write("polling.yaml", "sources:\n  - {name: c, interval: 1, meters: [cpu]}\n")
        func start(_ name: String) throws -> (BackgroundProcess, String) {
            let out = dir.file("\(name)-\(UUID().uuidString.prefix(4)).log")
            let pipeline = try dir.write("\(name)-pipeline-\(UUID().uuidString.prefix(4)).yaml",
                                         "sources:\n  - {name: s, meters: [cpu], sinks: [k]}\nsinks:\n  - {name: k, publishers: [\"file://\(out)\"]}\n")
            let p = try BackgroundProcess(binary, ["agent", "--namespaces", "compute", "--host", "h", "--libvirt-uri", uri,
                                                   "--polling", polling, "--pipeline", pipeline,
                                                   "--coordination-url", "\(etcd.coordinationURL)?timeout=\(ttl)"],
                                          logDirectory: dir.path, name: name)
            return (p, out)
        }
        func polled(_ outputs: [String], since: Double) -> [String: Int] {
            var count: [String: Int] = [:]
            for o in outputs {
                for line in ((try? String(contentsOfFile: o, encoding: .utf8)) ?? "").split(separator: "\n") {
                    guard let v = try? JSONParser.parse(String(line)), let ts = v["timestamp"]?.stringValue.flatMap(Time.parseISO),
                          ts >= since, let r = v["resource_id"]?.stringValue else { continue }
                    count[r, default: 0] += 1
                }
            }
            return count
        }
        var agents = try (0..<3).map { try start("agent\($0)") }
        try await Task.sleep(for: .seconds(5))
        var summary: [String] = []
        for name in signals {
            let sig = name == "TERM" ? SIGTERM : name == "INT" ? SIGINT : SIGKILL
            var results: [Double] = []
            for trial in 1...trials {
                let victim = trial % agents.count
                let signalled = Date().timeIntervalSince1970
                let victimOwned = Set(polled([agents[victim].1], since: signalled - 1.0).keys)
                agents[victim].0.signal(sig)
                agents[victim].0.wait(timeout: 30)
                let survivors = agents.enumerated().filter { $0.offset != victim }.map { $0.element.1 }
                var recovered: Double?
                while recovered == nil, Date().timeIntervalSince1970 - signalled < 60 {
                    try await Task.sleep(for: .milliseconds(100))
                    let now = Date().timeIntervalSince1970
                    // Full coverage in the last second, each domain by exactly one survivor.
                    let window = polled(survivors, since: now - 1.0)
                    if Set(window.keys) == all, window.values.allSatisfy({ $0 == 1 }), now - signalled > 0.5 { recovered = now - 1.0 }
                }
                // Handover: when the last of the victim's domains was first polled by a survivor.
                var firstBySurvivor: [String: Double] = [:]
                for o in survivors {
                    for line in ((try? String(contentsOfFile: o, encoding: .utf8)) ?? "").split(separator: "\n") {
                        guard let v = try? JSONParser.parse(String(line)), let ts = v["timestamp"]?.stringValue.flatMap(Time.parseISO),
                              ts > signalled, let r = v["resource_id"]?.stringValue, victimOwned.contains(r) else { continue }
                        firstBySurvivor[r] = min(firstBySurvivor[r] ?? .infinity, ts)
                    }
                }
                let handover = firstBySurvivor.count == victimOwned.count ? (firstBySurvivor.values.max() ?? signalled) : .infinity
                let t = recovered == nil ? .infinity : handover - signalled
                results.append(max(0, t))
                print("  SIG\(name) trial \(trial): the victim's \(victimOwned.count) domains polled by survivors \(format(t, 2)) s after the signal")
                agents[victim] = try start("agent\(victim)")
                try await Task.sleep(for: .seconds(Double(ttl) + 3))
            }
            let s = Stats(values: results)
            summary.append("SIG\(name): median \(format(s.median, 2)) s, max \(format(s.max, 2)) s over \(trials) trials")
        }
        for a in agents { a.0.stop() }
        etcd.stop()
        for line in summary { print("failover (3 agents, 30 domains, interval 1 s, lease TTL \(ttl) s) \(line)") }
    }
}
