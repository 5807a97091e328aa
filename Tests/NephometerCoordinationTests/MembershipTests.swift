import Foundation
import Logging
import NephometerCoordination
import NephometerCore
import Testing
import TestSupport

@Suite struct CoordinationURLTests {
    @Test func urlsAndTimeouts() throws {
        let e = try CoordinationURL("etcd3+http://127.0.0.1:2379?timeout=5")
        #expect(e.backend == .etcd(endpoint: "http://127.0.0.1:2379") && e.timeout == 5)
        #expect(try CoordinationURL("etcd3+https://etcd:2379").timeout == 30)
        let f = try CoordinationURL("file:///var/lib/nephometer/group")
        #expect(f.backend == .file(directory: "/var/lib/nephometer/group") && f.timeout == 10)
        #expect(throws: CoordinationURL.Invalid.self) { try CoordinationURL("redis://localhost") }
        #expect(throws: CoordinationURL.Invalid.self) { try CoordinationURL("etcd3+http://h:1?timeout=0") }
        do { _ = try CoordinationURL("etcd+http://h:1") } catch { #expect(error.description.contains("did you mean 'etcd3+http'")) }
    }
}

@Suite struct FileMembershipTests {
    @Test func membersShareADirectoryAndExpireByMtime() async throws {
        let dir = TemporaryDirectory("file-group")
        let a = FileMembership(directory: dir.path, memberID: "agent-a", timeout: 4, logger: Logger(label: "a"))
        let b = FileMembership(directory: dir.path, memberID: "agent-b", timeout: 4, logger: Logger(label: "b"))
        try await a.join(group: "compute-host1", weight: 1)
        try await b.join(group: "compute-host1", weight: 3)
        #expect(await a.members(of: "compute-host1") == ["agent-a": 1, "agent-b": 3])
        // b leaves: its file goes away and it is no longer a member.
        await b.stop()
        #expect(await a.members(of: "compute-host1") == ["agent-a": 1])
        let c = FileMembership(directory: dir.path, memberID: "agent-c", timeout: 4, logger: Logger(label: "c"))
        try await c.join(group: "compute-host1", weight: 1)
        // Their heartbeats run as the agent's membership service runs them.
        let beats = [Task { await a.run() }, Task { await c.run() }]
        defer { for t in beats { t.cancel() } }
        try await Task.sleep(for: .seconds(6))
        // a and c keep their files fresh past the timeout.
        #expect(await a.members(of: "compute-host1") == ["agent-a": 1, "agent-c": 1])
        await a.stop()
        await c.stop()
    }

    @Test func aMemberThatStopsBeatingDropsOutAfterTheTimeout() async throws {
        let dir = TemporaryDirectory("file-group-stale")
        let a = FileMembership(directory: dir.path, memberID: "agent-a", timeout: 2, logger: Logger(label: "a"))
        try await a.join(group: "g", weight: 1)
        // A member file nobody refreshes (a killed agent): present at first, gone from members after 2 s.
        let other = FileMembership(directory: dir.path, memberID: "agent-dead", timeout: 2, logger: Logger(label: "d"))
        try await other.join(group: "g", weight: 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/groups").flatMap {
            try FileManager.default.contentsOfDirectory(atPath: dir.path + "/groups/" + $0).map { f in (f, dir.path) }
        }
        #expect(files.filter { $0.0.hasSuffix(".raw") }.count == 2)
        let stale = Date().addingTimeInterval(-10)
        for g in try FileManager.default.contentsOfDirectory(atPath: dir.path + "/groups") {
            let path = "\(dir.path)/groups/\(g)/\(FileMembership.sha1("agent-dead")).raw"
            try FileManager.default.setAttributes([.modificationDate: stale], ofItemAtPath: path)
        }
        #expect(await a.members(of: "g") == ["agent-a": 1])
        await a.stop()
    }
}

@Suite(.serialized, .etcd) struct EtcdMembershipTests {
    func daemon() throws -> EtcdDaemon {
        try #require(EtcdScope.current, "etcd did not start (see the suite's error)")
    }

    @Test func membersUseToozsKeyLayoutAndSeeEachOther() async throws {
        let etcd = try daemon()
        let a = EtcdMembership(endpoint: etcd.endpoint, memberID: "11111111-aaaa", ttl: 5, logger: Logger(label: "a"))
        let b = EtcdMembership(endpoint: etcd.endpoint, memberID: "22222222-bbbb", ttl: 5, logger: Logger(label: "b"))
        let loops = [Task { await a.run() }, Task { await b.run() }]
        defer { for t in loops { t.cancel() } }
        try await a.join(group: "central-global", weight: 1)
        try await b.join(group: "central-global", weight: 2)
        #expect(await eventuallyAsync(timeout: 5) { await a.members(of: "central-global") == ["11111111-aaaa": 1, "22222222-bbbb": 2] })
        let keys = try etcd.etcdctl(["get", "--prefix", "tooz/groups/central-global/", "--keys-only"]).lines
        #expect(keys.sorted() == ["tooz/groups/central-global/", "tooz/groups/central-global/11111111-aaaa", "tooz/groups/central-global/22222222-bbbb"])
        // msgpack {'weight': 2}, attached to a lease, as tooz writes it.
        let json = try JSONParser.parse(try etcd.etcdctl(["get", "tooz/groups/central-global/22222222-bbbb", "-w", "json"]).stdout)
        guard case .array(let kvs)? = json["kvs"], let kv = kvs.first else { Issue.record("no key"); return }
        #expect(kv["value"] == .string("gaZ3ZWlnaHQC"))
        #expect(kv["lease"] != nil)
        await b.stop()
        #expect(await eventuallyAsync(timeout: 5) { await a.members(of: "central-global") == ["11111111-aaaa": 1] })
        await a.stop()
    }

    @Test func aMemberWhoseLeaseExpiredRejoinsByItself() async throws {
        let etcd = try daemon()
        let a = EtcdMembership(endpoint: etcd.endpoint, memberID: "lease-victim", ttl: 3, logger: Logger(label: "a"))
        let watcher = EtcdMembership(endpoint: etcd.endpoint, memberID: "watcher", ttl: 3, logger: Logger(label: "w"))
        let loops = [Task { await a.run() }, Task { await watcher.run() }]
        defer { for t in loops { t.cancel() } }
        try await a.join(group: "g-lease", weight: 1)
        try await watcher.join(group: "g-lease", weight: 1)
        #expect(await eventuallyAsync(timeout: 5) { await watcher.members(of: "g-lease")?["lease-victim"] != nil })
        func victimLease() -> String? {
            guard let text = try? etcd.etcdctl(["get", "tooz/groups/g-lease/lease-victim", "-w", "json"]).stdout,
                  case .array(let kvs)? = try? JSONParser.parse(text)["kvs"], let kv = kvs.first else { return nil }
            return kv["lease"].map { JSONWriter.string($0) }
        }
        let before = try #require(victimLease())
        // Revoke the victim's lease behind its back, as an expiry after a long pause would.
        let leases = try etcd.etcdctl(["lease", "list"]).lines.filter { $0.range(of: "^[0-9a-f]+$", options: .regularExpression) != nil }
        for l in leases {
            let ttl = try etcd.etcdctl(["lease", "timetolive", l, "--keys"]).stdout
            if ttl.contains("lease-victim") { _ = try etcd.etcdctl(["lease", "revoke", l]) }
        }
        // Its key is deleted with the lease, then it comes back on its own under a new lease
        // (tooz's members stay gone).
        #expect(await eventuallyAsync(timeout: 10) { victimLease().map { $0 != before } ?? false })
        #expect(await eventuallyAsync(timeout: 5) { await watcher.members(of: "g-lease")?["lease-victim"] != nil })
        let keys = try etcd.etcdctl(["get", "--prefix", "tooz/groups/g-lease/lease-victim", "--keys-only"]).lines
        #expect(keys == ["tooz/groups/g-lease/lease-victim"])
        await a.stop()
        await watcher.stop()
    }

    @Test func anEtcdOutageKeepsTheLastKnownMembersAndRecovers() async throws {
        let etcd = try daemon()
        let a = EtcdMembership(endpoint: etcd.endpoint, memberID: "outage-a", ttl: 4, logger: Logger(label: "a"))
        let b = EtcdMembership(endpoint: etcd.endpoint, memberID: "outage-b", ttl: 4, logger: Logger(label: "b"))
        let loops = [Task { await a.run() }, Task { await b.run() }]
        defer { for t in loops { t.cancel() } }
        try await a.join(group: "g-outage", weight: 1)
        try await b.join(group: "g-outage", weight: 1)
        #expect(await eventuallyAsync(timeout: 5) { await a.members(of: "g-outage")?.count == 2 })
        etcd.stop()
        try await Task.sleep(for: .seconds(2))
        #expect(await a.members(of: "g-outage") == ["outage-a": 1, "outage-b": 1])
        try etcd.start()
        // After the restart both are members again (their leases renewed, or re-granted and re-joined).
        #expect(await eventuallyAsync(timeout: 20) {
            ((try? etcd.etcdctl(["get", "--prefix", "tooz/groups/g-outage/", "--keys-only"]).lines.count) ?? 0) == 3
        })
        #expect(await eventuallyAsync(timeout: 10) { await a.members(of: "g-outage")?.count == 2 })
        await a.stop()
        await b.stop()
    }
}

func eventuallyAsync(timeout: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await condition()
}

/// One real etcd for a suite: started before its first test, stopped after its last (also when a test
/// fails), so no etcd outlives the suite.
struct EtcdScope: SuiteTrait, TestScoping {
    @TaskLocal static var current: EtcdDaemon?

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let etcd = try EtcdDaemon()
        defer { etcd.stop() }
        try await Self.$current.withValue(etcd) { try await function() }
    }
}

extension Trait where Self == EtcdScope {
    static var etcd: Self { Self() }
}
