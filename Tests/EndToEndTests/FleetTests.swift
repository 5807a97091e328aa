import Foundation
import NephometerCore
import Testing
import TestSupport

/// Agents in separate processes sharing a compute group on real etcd: they split the domains, take over
/// from a killed agent, and give a quarter to a newcomer.
@Suite(.serialized) struct FleetTests {
    let dir = TemporaryDirectory("nephometer-fleet")

    final class Agent {
        let process: BackgroundProcess
        let output: String
        init(_ name: String, dir: TemporaryDirectory, uri: String, polling: String, coordination: String) throws {
            output = dir.file("\(name).log")
            let pipeline = try dir.write("\(name)-pipeline.yaml", """
            sources:
              - {name: s, meters: [cpu], sinks: [k]}
            sinks:
              - {name: k, publishers: ["file://\(output)"]}
            """)
            process = try BackgroundProcess(Command.nephometer, [
                "agent", "--namespaces", "compute", "--host", "compute-1", "--libvirt-uri", uri, "--polling", polling,
                "--pipeline", pipeline, "--coordination-url", coordination, "--log-level", "info",
            ], logDirectory: dir.path, name: name)
        }
        /// (wall-clock seconds, resource id) of every cpu sample written so far.
        var samples: [(Double, String)] {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                guard let v = try? JSONParser.parse(String(line)), let ts = v["timestamp"]?.stringValue.flatMap(Time.parseISO),
                      let r = v["resource_id"]?.stringValue else { return nil }
                return (ts, r)
            }
        }
        func resources(since t: Double, until u: Double) -> Set<String> {
            Set(samples.filter { $0.0 >= t && $0.0 < u }.map(\.1))
        }
    }

    /// Owners of each resource within a window: resource → agents that polled it.
    func owners(_ agents: [String: Agent], from t: Double, to u: Double) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for (name, a) in agents { for r in a.resources(since: t, until: u) { out[r, default: []].insert(name) } }
        return out
    }

    @Test func agentsSplitTheWorkTakeOverFromTheDeadAndShareWithNewcomers() throws {
        let etcd = try EtcdDaemon()
        let node = LibvirtTestNode.uniform(count: 60, disks: 1, interfaces: 0)
        let uri = try node.write(to: dir.file("node.xml"))
        let all = Set(node.domains.map(\.uuid))
        let polling = try dir.write("polling.yaml", "sources:\n  - {name: c, interval: 1, meters: [cpu]}\n")
        let coordination = "\(etcd.coordinationURL)?timeout=3"
        var agents: [String: Agent] = [:]
        for n in ["a", "b", "c"] { agents[n] = try Agent(n, dir: dir, uri: uri, polling: polling, coordination: coordination) }

        // Steady state: a 3-second window after everyone joined; every domain polled, each by one agent.
        Thread.sleep(forTimeInterval: 4)
        var t = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 3)
        var o = owners(agents, from: t, to: Date().timeIntervalSince1970 - 0.5)
        #expect(Set(o.keys) == all)
        #expect(o.values.allSatisfy { $0.count == 1 }, "\(o.filter { $0.value.count != 1 })")
        #expect(agents.values.allSatisfy { !$0.resources(since: t, until: .infinity).isEmpty })
        let steady = o.mapValues { $0.first ?? "" }

        // SIGKILL one: within the lease TTL (3 s) plus an interval, the survivors cover everything once.
        agents["b"]?.process.signal(SIGKILL)
        agents["b"]?.process.wait(timeout: 5)
        let killedAt = Date().timeIntervalSince1970
        let survivors = agents.filter { $0.key != "b" }
        var recovered: Double?
        for _ in 0..<40 {
            Thread.sleep(forTimeInterval: 0.5)
            let now = Date().timeIntervalSince1970
            let w = owners(survivors, from: now - 1.2, to: now)
            if Set(w.keys) == all && w.values.allSatisfy({ $0.count == 1 }) { recovered = now; break }
        }
        let failover = try #require(recovered) - killedAt
        #expect(failover < 3 + 1 + 2.5, "failover took \(failover) s")
        t = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 2.5)
        o = owners(survivors, from: t, to: Date().timeIntervalSince1970 - 0.5)
        #expect(Set(o.keys) == all && o.values.allSatisfy { $0.count == 1 })
        let twoAgents = o.mapValues { $0.first ?? "" }
        #expect(twoAgents.filter { steady[$0.key] != "b" }.allSatisfy { steady[$0.key] == $0.value }, "only the dead agent's domains move")

        // Back to three (a replacement for b), then a fourth joins: it takes about a quarter, only from
        // the others, and nothing is polled twice.
        var grown = survivors
        grown["b2"] = try Agent("b2", dir: dir, uri: uri, polling: polling, coordination: coordination)
        Thread.sleep(forTimeInterval: 4)
        t = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 2.5)
        o = owners(grown, from: t, to: Date().timeIntervalSince1970 - 0.5)
        #expect(Set(o.keys) == all && o.values.allSatisfy { $0.count == 1 })
        let threeAgents = o.mapValues { $0.first ?? "" }
        grown["d"] = try Agent("d", dir: dir, uri: uri, polling: polling, coordination: coordination)
        Thread.sleep(forTimeInterval: 4)
        t = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 2.5)
        o = owners(grown, from: t, to: Date().timeIntervalSince1970 - 0.5)
        #expect(Set(o.keys) == all && o.values.allSatisfy { $0.count == 1 })
        let moved = o.filter { threeAgents[$0.key] != $0.value.first }
        #expect(moved.values.allSatisfy { $0 == ["d"] })
        #expect(moved.count >= 1, "the newcomer took nothing")
        // Which domains: exactly what tooz's ring of the four members' ids gives (`nephometer ring`). The
        // share itself is random (member ids are fresh UUIDs, 32 points each: reference §4.3), ideally 25 %.
        var ids: [String: String] = [:]
        for (name, a) in grown {
            let log = a.process.stderr
            if let r = log.range(of: #"joined partitioning group \S+ as [0-9a-f-]{36}"#, options: .regularExpression) { ids[String(log[r].suffix(36))] = name }
        }
        #expect(ids.count == 4, "member ids in the agents' logs: \(ids)")
        let ring = try Command.nephometer(["ring", "--members", ids.keys.sorted().joined(separator: ",")] + all.sorted())
        #expect(ring.status == 0, "\(ring.stderr)")
        var expected: [String: String] = [:]
        for line in ring.stdout.split(separator: "\n") {
            guard let v = try? JSONParser.parse(String(line)), let key = v["key"]?.stringValue,
                  case .array(let owners)? = v["owners"], let first = owners.first?.stringValue else { continue }
            expected[key] = ids[first]
        }
        #expect(expected.count == all.count)
        #expect(o.mapValues { $0.first ?? "" } == expected, "owners differ from the ring: \(o.filter { expected[$0.key] != $0.value.first }.count) of \(all.count)")
        for a in grown.values { a.process.stop() }
        etcd.stop()
    }
}

/// An agent paused past its lease (SIGSTOP), then resumed: it polls only what it owned, re-joins
/// once, and its membership is not deleted again later by an orphaned lease.
@Suite(.serialized) struct PausedAgentTests {
    let dir = TemporaryDirectory("nephometer-paused")

    @Test func aPausedAgentPollsOnlyItsShareWhenItResumes() throws {
        let etcd = try EtcdDaemon()
        defer { etcd.stop() }
        let node = LibvirtTestNode.uniform(count: 50, disks: 1, interfaces: 0)
        let uri = try node.write(to: dir.file("node.xml"))
        let all = Set(node.domains.map(\.uuid))
        let polling = try dir.write("polling.yaml", "sources:\n  - {name: c, interval: 1, meters: [cpu]}\n")
        let coordination = "\(etcd.coordinationURL)?timeout=2"
        let a = try FleetTests.Agent("a", dir: dir, uri: uri, polling: polling, coordination: coordination)
        let b = try FleetTests.Agent("b", dir: dir, uri: uri, polling: polling, coordination: coordination)
        defer { a.process.stop(); b.process.stop() }
        Thread.sleep(forTimeInterval: 4)
        var t = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 2.5)
        let share = a.resources(since: t, until: Date().timeIntervalSince1970 - 0.5)
        #expect(!share.isEmpty && share.count < all.count)
        #expect(share.union(b.resources(since: t, until: Date().timeIntervalSince1970 - 0.5)) == all)

        // Paused for three lease TTLs: b takes everything meanwhile.
        a.process.signal(SIGSTOP)
        Thread.sleep(forTimeInterval: 6)
        a.process.signal(SIGCONT)
        let resumed = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 1.5)
        let firstAfter = a.resources(since: resumed, until: resumed + 1.2)
        #expect(firstAfter.isSubset(of: share), "after the pause a polled \(firstAfter.count) resources; it owned \(share.count)")
        #expect(firstAfter.count < all.count)

        // Re-joined once; the split holds for several TTLs after that (no orphaned lease deletes a's key).
        Thread.sleep(forTimeInterval: 6)
        t = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 2.5)
        let u = Date().timeIntervalSince1970 - 0.5
        let ra = a.resources(since: t, until: u), rb = b.resources(since: t, until: u)
        #expect(!ra.isEmpty && ra.isDisjoint(with: rb) && ra.union(rb) == all, "a \(ra.count), b \(rb.count)")
        // One new lease for the whole episode, however many parts of the agent noticed the loss.
        #expect(a.process.stderr.components(separatedBy: "granting a new one").count - 1 == 1, "\(a.process.stderr.suffix(2500))")
        a.process.stop()
        b.process.stop()
        #expect(!a.process.stderr.contains("CancellationError") && !b.process.stderr.contains("CancellationError"))
        #expect(!a.process.stderr.contains("etcd unreachable"), "shutdown is not an etcd outage: \(a.process.stderr.suffix(1500))")
    }
}
