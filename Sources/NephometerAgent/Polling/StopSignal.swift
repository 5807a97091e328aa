import Synchronization

/// A one-way signal that interrupts sleeps: the scheduler's loops sleep until their next cycle or until
/// the agent stops scheduling, whichever comes first.
final class StopSignal: Sendable {
    private struct State {
        var stopped = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var next = 0
    }
    private let state = Mutex(State())

    var isStopped: Bool { state.withLock { $0.stopped } }

    func stop() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.stopped = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Returns when stopped (or the task is cancelled).
    func wait() async {
        let id = state.withLock { s -> Int in s.next += 1; return s.next }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.stopped || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { $0.waiters.removeValue(forKey: id) }
            c?.resume()
        }
    }

    /// Sleeps until `deadline`; false when stopped (or cancelled) first.
    func sleep(until deadline: ContinuousClock.Instant) async -> Bool {
        if isStopped { return false }
        return await withTaskGroup(of: Bool.self) { g in
            g.addTask { (try? await Task.sleep(until: deadline, clock: .continuous)) != nil }
            g.addTask { await self.wait(); return false }
            let first = await g.next() ?? false
            g.cancelAll()
            return first && !isStopped
        }
    }
}
