import Foundation
@testable import NephometerCompute
import NephometerCore
import Synchronization
import Testing

/// `CallGate.runEach`: many blocking calls on a few lanes, each under its own deadline; a call that
/// hangs costs the others nothing, is reported once as timed out, keeps its key busy until it returns,
/// and leaves one thread behind for as long as it hangs — not one per batch.
@Suite struct CallGateTests {
    /// Threads the gate's calls hold once its lanes have ended (a finished lane returns just after it
    /// resumes the batch). The gate counts them: the process's own thread count also moves with
    /// whatever other suites run in parallel.
    static func threadsSettled(_ gate: CallGate, atMost n: Int) async throws -> Int {
        for _ in 0..<100 where gate.threadsInUse > n { try await Task.sleep(for: .milliseconds(10)) }
        return gate.threadsInUse
    }

    @Test func aHungCallCostsTheOthersNothingAndItsKeyStaysBusy() async throws {
        let gate = CallGate(label: "test")
        let release = Mutex(false)
        let items = (0..<200).map { (key: "d\($0)", item: $0) }
        let started = Time.monotonic()
        let outcomes = await gate.runEach(items, lanes: 2, seconds: 0.3) { i -> Int in
            if i == 3 { while !release.withLock({ $0 }) { usleep(5_000) } }  // d3 hangs
            return i * 2
        }
        let took = Time.monotonic() - started
        #expect(took < 2, "the batch took \(took) s")
        for (i, o) in outcomes.enumerated() {
            switch o {
            case .value(let v): #expect(i != 3 && v == i * 2)
            case .timedOut: #expect(i == 3)
            default: Issue.record("item \(i): \(o)")
            }
        }
        #expect(gate.isBusy("d3") && gate.busyKeys.count == 1)
        // The next batches skip the busy key at once and leave no further thread behind: the hung
        // call's is the only one the gate holds after each.
        #expect(try await Self.threadsSettled(gate, atMost: 1) == 1)
        for _ in 0..<5 {
            let again = await gate.runEach(items, lanes: 2, seconds: 0.3) { $0 }
            guard case .busy = again[3] else { Issue.record("d3 was called again while its call hangs: \(again[3])"); return }
            #expect(again.enumerated().allSatisfy { i, o in if case .value(let v) = o { return v == i } else { return i == 3 } })
            let held = try await Self.threadsSettled(gate, atMost: 1)
            #expect(held == 1, "the gate holds \(held) threads after a batch; only the hung call's should remain")
        }
        release.withLock { $0 = true }
        for _ in 0..<100 where gate.isBusy("d3") { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!gate.isBusy("d3"), "the key is free once its call returned")
        #expect(try await Self.threadsSettled(gate, atMost: 0) == 0, "its thread ends with the call")
        let after = await gate.runEach([(key: "d3", item: 3)], lanes: 1, seconds: 1) { $0 + 1 }
        guard case .value(4) = after[0] else { Issue.record("\(after)"); return }
    }

    @Test func errorsAreReturnedPerItem() async {
        struct Boom: Error {}
        let gate = CallGate(label: "test")
        let outcomes = await gate.runEach((0..<10).map { (key: "k\($0)", item: $0) }, lanes: 3, seconds: 5) { i -> Int in
            if i % 2 == 1 { throw Boom() }
            return i
        }
        for (i, o) in outcomes.enumerated() {
            switch o {
            case .value(let v): #expect(i % 2 == 0 && v == i)
            case .failed(let e): #expect(i % 2 == 1 && e is Boom)
            default: Issue.record("\(i): \(o)")
            }
        }
        #expect(gate.busyKeys.isEmpty)
    }
    @Test func oneLanePerFewHundredDomains() {
        #expect([0, 1, 100, 250, 251, 500, 501, 750, 1000, 5000].map(CallGate.lanes(forDomains:)) == [1, 1, 1, 1, 2, 2, 3, 3, 4, 4])
    }

    /// With one lane (a cycle of under a few hundred domains) a hung call holds the lane only until its
    /// deadline: the watchdog gives up on it and a fresh lane reads the rest, in order.
    @Test func withOneLaneAHungCallDelaysTheOthersByItsDeadlineOnly() async throws {
        let gate = CallGate(label: "test")
        let release = Mutex(false)
        let items = (0..<50).map { (key: "d\($0)", item: $0) }
        let started = Time.monotonic()
        let outcomes = await gate.runEach(items, lanes: CallGate.lanes(forDomains: items.count), seconds: 0.5) { i -> Int in
            if i == 0 { while !release.withLock({ $0 }) { usleep(5_000) } }  // the first domain hangs
            return i + 1
        }
        let took = Time.monotonic() - started
        #expect(took >= 0.5 && took < 0.5 + 1, "the batch took \(took) s")
        guard case .timedOut = outcomes[0] else { Issue.record("\(outcomes[0])"); return }
        #expect(outcomes.dropFirst().enumerated().allSatisfy { i, o in if case .value(let v) = o { return v == i + 2 } else { return false } })
        release.withLock { $0 = true }
        for _ in 0..<100 where gate.isBusy("d0") { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!gate.isBusy("d0"))
        #expect(try await Self.threadsSettled(gate, atMost: 0) == 0)
    }
}
