import Foundation
import Logging
import NephometerAgent
import NephometerConfig
import NephometerCoordination
import TestSupport
import NephometerCore
import Synchronization
import Testing

/// A pollster of our own contract that records what it was asked to poll.
final class RecordingPollster: Pollster, @unchecked Sendable {
    let name: String
    let defaultDiscovery: String?
    let perResource: Int
    let fails: Bool
    let calls = Mutex<[[String]]>([])
    let times = Mutex<[Double]>([])

    init(_ name: String, defaultDiscovery: String? = nil, perResource: Int = 1, fails: Bool = false) {
        self.name = name
        self.defaultDiscovery = defaultDiscovery
        self.perResource = perResource
        self.fails = fails
    }

    func poll(_ resources: [PollResource], cycle: PollCycle) async throws -> [Sample] {
        calls.withLock { $0.append(resources.map(\.key)) }
        times.withLock { $0.append(Time.monotonic()) }
        if fails { throw PollFailure() }
        try await Task.sleep(for: .milliseconds(2))
        return resources.flatMap { r in
            (0..<perResource).map { i in Sample(name: name, type: .gauge, unit: "x", volume: .int(Int64(i)), resourceID: r.key) }
        }
    }
    struct PollFailure: Error {}
}

struct FixedDiscovery: Discoverer {
    let name: String
    let keys: [String]
    var groupID: String? { "global" }
    func discover(parameter: String?, cycle: PollCycle) async throws -> [PollResource] {
        keys.map { k in PollResource(key: parameter.map { "\($0)/\(k)" } ?? k, value: k) }
    }
}

struct TestFamily: PollsterFamily {
    let namespace = "test"
    let pollsters: [any Pollster]
    let discoverers: [any Discoverer]
    func reconfigure(enabled: Set<String>) async {}
    func shutdown() async {}
}

final class Collected: Sendable {
    let batches = Mutex<[[Sample]]>([])
    var all: [Sample] { batches.withLock { $0.flatMap { $0 } } }
}

@Suite struct PollingManagerTests {
    func manager(_ sources: [PollingSource], _ family: TestFamily, batchSize: Int = 50) -> (PollingManager, Collected) {
        let c = Collected()
        let m = PollingManager(polling: PollingConfig(file: "polling.yaml", sources: sources), families: [family],
                               batchSize: batchSize, jitter: 0, consumer: { s in c.batches.withLock { $0.append(s) } },
                               logger: Logger(label: "test"))
        return (m, c)
    }

    @Test func samplesAreBatchedAndShareTheirPollsterTimestamp() async {
        let p = RecordingPollster("m1", perResource: 5)
        let q = RecordingPollster("m2", perResource: 1)
        let (m, c) = manager([PollingSource(name: "s", interval: 60, meters: ["m*"], resources: ["r1"])],
                             TestFamily(pollsters: [p, q], discoverers: []), batchSize: 2)
        await m.runOnce()
        let batches = c.batches.withLock { $0 }
        #expect(batches.map(\.count) == [2, 2, 1, 1])
        #expect(Set(c.all.filter { $0.name == "m1" }.map(\.timestamp)).count == 1)
        #expect(c.all.allSatisfy { $0.timestamp.flatMap(Time.parseISO) != nil })
        #expect(c.all.first { $0.name == "m1" }?.timestamp != c.all.first { $0.name == "m2" }?.timestamp)
    }

    @Test func batchSizeZeroSendsOneSampleAtATime() async {
        let p = RecordingPollster("m1", perResource: 3)
        let (m, c) = manager([PollingSource(name: "s", interval: 60, meters: ["m1"], resources: ["r1"])],
                             TestFamily(pollsters: [p], discoverers: []), batchSize: 0)
        await m.runOnce()
        #expect(c.batches.withLock { $0.map(\.count) } == [1, 1, 1])
    }

    @Test func aResourceIsPolledOncePerPollsterEvenIfTwoSourcesNameIt() async {
        let p = RecordingPollster("m1")
        let (m, c) = manager([
            PollingSource(name: "a", interval: 60, meters: ["m1"], resources: ["r1", "r2"]),
            PollingSource(name: "b", interval: 60, meters: ["*"], resources: ["r2", "r3"]),
        ], TestFamily(pollsters: [p], discoverers: []))
        await m.runOnce()
        #expect(p.calls.withLock { $0 } == [["r1", "r2"], ["r3"]])
        #expect(c.all.map(\.resourceID).sorted() == ["r1", "r2", "r3"])
    }

    @Test func staticResourcesAndDiscoveryComeBeforeTheDefaultDiscovery() async {
        let p = RecordingPollster("m1", defaultDiscovery: "local_things")
        let family = TestFamily(pollsters: [p], discoverers: [FixedDiscovery(name: "local_things", keys: ["d1", "d2"]),
                                                              FixedDiscovery(name: "endpoint", keys: ["e1"])])
        let (m, _) = manager([
            PollingSource(name: "default", interval: 60, meters: ["m1"]),
            PollingSource(name: "static", interval: 30, meters: ["m1"], resources: ["r9"]),
            PollingSource(name: "explicit", interval: 10, meters: ["m1"], discovery: ["endpoint:compute"]),
        ], family)
        await m.runOnce()
        #expect(Set(p.calls.withLock { $0 }) == [["d1", "d2"], ["r9"], ["compute/e1"]])
    }

    @Test func aFailingPollsterIsSkippedAndTheCycleGoesOn() async {
        let bad = RecordingPollster("bad", fails: true)
        let good = RecordingPollster("good")
        let (m, c) = manager([PollingSource(name: "s", interval: 60, meters: ["*"], resources: ["r1"])],
                             TestFamily(pollsters: [bad, good], discoverers: []))
        await m.runOnce()
        #expect(bad.calls.withLock { $0.count } == 1)
        #expect(c.all.map(\.name) == ["good"])
    }

    @Test func unknownDiscoveryIsAWarningNotAFailure() async {
        let p = RecordingPollster("m1")
        let (m, c) = manager([PollingSource(name: "s", interval: 60, meters: ["m1"], discovery: ["nowhere"])],
                             TestFamily(pollsters: [p], discoverers: []))
        await m.runOnce()
        #expect(p.calls.withLock { $0.isEmpty })
        #expect(c.all.isEmpty)
    }

    @Test func oneTaskPerDistinctInterval() {
        let p = RecordingPollster("m1"), q = RecordingPollster("m2")
        let (m, _) = manager([
            PollingSource(name: "a", interval: 60, meters: ["m1"]),
            PollingSource(name: "b", interval: 60, meters: ["m2"]),
            PollingSource(name: "c", interval: 300, meters: ["m1"]),
            PollingSource(name: "d", interval: 5, meters: ["nothing"]),
        ], TestFamily(pollsters: [p, q], discoverers: []))
        #expect(m.intervals == [60, 300])
        #expect(m.activePollsters == ["m1", "m2"])
    }

    @Test func runStopsAfterTheRequestedCyclesAtAFixedRate() async {
        let p = RecordingPollster("m1")
        let (m, _) = manager([PollingSource(name: "s", interval: 1, meters: ["m1"], resources: ["r"])],
                             TestFamily(pollsters: [p], discoverers: []))
        await m.run(cycles: 3)
        #expect(p.calls.withLock { $0.count } == 3)
        // Cycles start one interval apart (fixed rate), not back to back.
        let t = p.times.withLock { $0 }
        #expect(t.count == 3 && t[1] - t[0] >= 0.9 && t[2] - t[1] >= 0.9 && t[2] - t[0] >= 1.95)
    }

    @Test func staticResourceGroupNamesAreStable() {
        #expect(StableHash.ofSet(["snmp://b", "snmp://a", "snmp://a"]) == StableHash.ofSet(["snmp://a", "snmp://b"]))
        #expect(StableHash.ofSet(["snmp://a"]) != StableHash.ofSet(["snmp://b"]))
        #expect(StableHash.ofSet(["x"]).count == 16)
    }
}

/// Two agents sharing a file:// group split static resources: together they poll each once.
@Suite struct StaticResourcePartitioningTests {
    @Test func twoAgentsSplitStaticResourcesWithoutOverlap() async throws {
        let dir = TemporaryDirectory("static-partition")
        let resources = (0..<40).map { "snmp://10.0.0.\($0)" }
        let source = PollingSource(name: "hw", interval: 60, meters: ["m1"], resources: resources)
        var polled: [Set<String>] = []
        var partitioners: [Partitioner] = []
        for id in ["agent-a", "agent-b"] {
            let membership = FileMembership(directory: dir.path, memberID: id, timeout: 10, logger: Logger(label: id))
            partitioners.append(Partitioner(membership: membership, logger: Logger(label: id)))
        }
        let group = "central-\(StableHash.ofSet(resources))"
        for p in partitioners { await p.prepare(groups: [group]) }
        for p in partitioners {
            let pollster = RecordingPollster("m1")
            let m = PollingManager(polling: PollingConfig(file: "p.yaml", sources: [source]),
                                   families: [TestFamily(pollsters: [pollster], discoverers: [])],
                                   batchSize: 50, jitter: 0, partitioner: p, groupPrefix: "central",
                                   consumer: { _ in }, logger: Logger(label: "m"))
            #expect(m.partitioningGroups == [group])
            await m.runOnce()
            polled.append(Set(pollster.calls.withLock { $0.flatMap { $0 } }))
        }
        #expect(polled[0].isDisjoint(with: polled[1]))
        #expect(polled[0].union(polled[1]) == Set(resources))
        #expect(!polled[0].isEmpty && !polled[1].isEmpty)
        // The same split as tooz's ring over the two members.
        let ring = HashRing(members: ["agent-a", "agent-b"])
        #expect(polled[0] == Set(resources.filter { ring.owns("agent-a", key: $0) }))
        for p in partitioners { await p.stop() }
    }
}
