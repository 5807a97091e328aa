import Dispatch
import NephometerAgent
import NephometerCore
import Testing

/// The agent's tasks run on one event loop thread: after awaiting work that finishes on another
/// thread, in child tasks, and inside actors, as `nephometer agent` runs its service group.
@Suite struct EventLoopTaskExecutorTests {
    actor Counter {
        var n = 0
        func add(_ executor: EventLoopTaskExecutor) -> Bool {
            n += 1
            return executor.isCurrent
        }
    }

    /// Resumed from a libdispatch thread, as a libvirt lane or the delivery's file queue resume.
    static func resumedElsewhere() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            DispatchQueue(label: "elsewhere").async { c.resume() }
        }
    }

    @Test func everyStepOfATaskTreeRunsOnTheLoop() async {
        let executor = EventLoopTaskExecutor()
        let counter = Counter()
        let outside = executor.isCurrent
        let steps: [Bool] = await withTaskExecutorPreference(executor) {
            var seen = [executor.isCurrent]
            await Self.resumedElsewhere()
            seen.append(executor.isCurrent)
            seen += await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        await Self.resumedElsewhere()
                        return executor.isCurrent
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            seen.append(await counter.add(executor))
            // A cycle's shared computation (compute discovery) runs in its first caller's task.
            seen.append((try? await PollCycle().cached("k") { executor.isCurrent }) ?? false)
            try? await Task.sleep(for: .milliseconds(10))
            seen.append(executor.isCurrent)
            return seen
        }
        #expect(!outside, "the test itself does not run on the loop")
        #expect(steps == Array(repeating: true, count: 9), "\(steps)")
        #expect(await counter.n == 1)
    }
}
