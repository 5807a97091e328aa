import NephometerCore
import Synchronization
import Testing

/// `PollCycle.cached`: what one pollster computed (a discovery, a bulk call) the others reuse.
@Suite struct PollCycleTests {
    struct Boom: Error {}
    final class Count: Sendable {
        private let n = Mutex(0)
        func add() { n.withLock { $0 += 1 } }
        var value: Int { n.withLock { $0 } }
    }

    @Test func concurrentCallersShareOneComputationAndItsFailure() async throws {
        let cycle = PollCycle(number: 1)
        let made = Count()
        let values = await withTaskGroup(of: Int?.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try? await cycle.cached("k") { () async throws -> Int in
                        made.add()
                        try await Task.sleep(for: .milliseconds(50))
                        return 42
                    }
                }
            }
            return await group.reduce(into: [Int?]()) { $0.append($1) }
        }
        #expect(values == Array(repeating: 42, count: 8))
        #expect(made.value == 1)
        // Later callers get the value without computing it again.
        let again: Int = try await cycle.cached("k") { made.add(); return 0 }
        #expect(again == 42 && made.value == 1)

        let failures = Count()
        for _ in 0..<3 {
            do {
                let _: Int = try await cycle.cached("bad") { failures.add(); throw Boom() }
                Issue.record("a failed computation returned a value")
            } catch {
                #expect(error is Boom)
            }
        }
        #expect(failures.value == 1)
        // A value of another type under the same key is an error, not a crash.
        await #expect(throws: (any Error).self) { let _: String = try await cycle.cached("k") { "x" } }
    }
}
