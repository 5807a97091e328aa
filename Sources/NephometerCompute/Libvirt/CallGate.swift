import Dispatch
import NephometerCore
import Synchronization

/// Runs blocking libvirt calls under deadlines without leaving a thread behind each cycle.
///
/// A call that misses its deadline cannot be interrupted (libvirt waits in its RPC client for the
/// daemon, which waits for a QEMU monitor that does not answer), so it goes on on its thread and its
/// key — a domain's UUID, or "bulk" for the all-domains call — stays busy until it returns. A busy key
/// is not called again: at most one thread waits per stuck domain, however many cycles it stays stuck.
public final class CallGate: Sendable {
    public enum Outcome<T: Sendable>: Sendable {
        case value(T)
        case failed(any Error)
        /// The call missed its deadline; it still runs and its key stays busy until it returns.
        case timedOut
        /// A call of this key that missed an earlier deadline has not returned yet (since: monotonic s).
        case busy(since: Double)
    }

    private let label: String
    fileprivate let calls = Mutex<[String: Double]>([:])
    /// Threads running this gate's calls now: lanes plus calls of `run`, finished or stuck.
    fileprivate let held = Atomic<Int>(0)

    public init(label: String) {
        self.label = label
    }

    /// Keys whose calls are still running, with when each started.
    public var busyKeys: [String: Double] { calls.withLock { $0 } }

    public func isBusy(_ key: String) -> Bool { calls.withLock { $0[key] != nil } }

    /// Threads this gate's calls occupy now (each running call or lane holds one; a stuck call holds
    /// its thread until it returns). Counted by the gate, so it is exact while other code starts threads.
    public var threadsInUse: Int { held.load(ordering: .relaxed) }

    /// Runs `work` on a thread of its own (a serial queue per call: serial queues run on libdispatch's
    /// overcommitting threads, which grow when one blocks), counted in `threadsInUse`.
    fileprivate func onThread(_ label: String, _ work: @escaping @Sendable () -> Void) {
        held.add(1, ordering: .relaxed)
        DispatchQueue(label: label).async { [self] in
            work()
            held.subtract(1, ordering: .relaxed)
        }
    }

    /// Runs `body` on a libvirt thread; returns its result, or `.timedOut` after `seconds`.
    public func run<T: Sendable>(_ key: String, seconds: Double,
                                 _ body: @escaping @Sendable () throws -> T) async -> Outcome<T> {
        let started = Time.monotonic()
        if let since = calls.withLock({ c -> Double? in
            if let s = c[key] { return s }
            c[key] = started
            return nil
        }) {
            return .busy(since: since)
        }
        return await withCheckedContinuation { (c: CheckedContinuation<Outcome<T>, Never>) in
            let gate = ResumeOnce(c)
            let timer = Task {
                guard (try? await Task.sleep(for: .seconds(clamping: seconds))) != nil else { return }
                gate.resume(.timedOut)
            }
            // A thread of its own per call (a concurrent queue runs on as many threads as there are
            // cores — two here — so two stuck calls would stall every other domain).
            onThread(label) { [self] in
                let outcome: Outcome<T>
                do { outcome = .value(try body()) } catch { outcome = .failed(error) }
                self.calls.withLock { _ = $0.removeValue(forKey: key) }
                timer.cancel()
                gate.resume(outcome)
            }
        }
    }
}

extension CallGate {
    /// Most lanes for a cycle's per-domain calls (discovery's and the inspector's).
    public static let domainLanes = 4
    /// Domains per lane: a lane is added for every this many domains, up to `domainLanes`.
    public static let domainsPerLane = 250

    /// Lanes for a cycle of `domains` per-domain calls. Lanes on one libvirt connection pass its socket
    /// between them (libvirt's client wakes the thread whose reply arrived), which costs about two
    /// context switches per call instead of one; below a few hundred domains one lane finishes well
    /// within any interval and costs the agent less (BENCHMARKS.md, "Compute end to end"). A hung
    /// domain is handled the same with one lane: the watchdog gives up on it at its deadline and a
    /// fresh lane takes the others.
    public static func lanes(forDomains domains: Int) -> Int {
        min(domainLanes, max(1, (domains + domainsPerLane - 1) / domainsPerLane))
    }

    /// Runs `body` for every item, each under its own deadline of `seconds`, on `lanes` threads that
    /// take items one after another: one thread hop per batch instead of several per item, which is
    /// what a cycle of a thousand domains costs in context switches otherwise. An item whose key is busy
    /// (its call of an earlier cycle has not returned) is not run (`.busy`). A watchdog checks the lanes
    /// every `seconds / 4` (at most 100 ms): an item running longer than `seconds` is reported
    /// `.timedOut`, its lane is left to it (the thread ends when the call returns, its key busy until
    /// then), and a fresh lane takes the remaining items. Outcomes are in the order of `items`.
    public func runEach<Item: Sendable, T: Sendable>(_ items: [(key: String, item: Item)], lanes: Int, seconds: Double,
                                                     _ body: @escaping @Sendable (Item) throws -> T) async -> [Outcome<T>] {
        guard !items.isEmpty else { return [] }
        let batch = Batch<Item, T>(items: items, gate: self, seconds: seconds, body: body)
        return await withCheckedContinuation { (c: CheckedContinuation<[Outcome<T>], Never>) in
            batch.start(lanes: max(1, min(lanes, items.count)), then: c)
        }
    }

    func claim(_ key: String, at t: Double) -> Double? {
        calls.withLock { c -> Double? in
            if let s = c[key] { return s }
            c[key] = t
            return nil
        }
    }

    func release(_ key: String) { calls.withLock { _ = $0.removeValue(forKey: key) } }
}

/// One `runEach`: its items, outcomes and lanes, under one lock.
private final class Batch<Item: Sendable, T: Sendable>: Sendable {
    struct State {
        var next = 0
        var outcomes: [CallGate.Outcome<T>?]
        var done = 0
        /// Per lane: the item it runs and since when (monotonic s); nil between items.
        var running: [Int: (index: Int, since: Double)] = [:]
        var abandoned: Set<Int> = []
        var lanes = 0
        var continuation: CheckedContinuation<[CallGate.Outcome<T>], Never>?
    }
    let items: [(key: String, item: Item)]
    let gate: CallGate
    let seconds: Double
    let body: @Sendable (Item) throws -> T
    private let state: Mutex<State>
    /// Dispatch sources may be resumed and cancelled from any thread.
    private nonisolated(unsafe) let watchdog = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "nephometer.libvirt.watchdog"))

    init(items: [(key: String, item: Item)], gate: CallGate, seconds: Double, body: @escaping @Sendable (Item) throws -> T) {
        self.items = items
        self.gate = gate
        self.seconds = seconds
        self.body = body
        state = Mutex(State(outcomes: Array(repeating: nil, count: items.count)))
    }

    func start(lanes: Int, then c: CheckedContinuation<[CallGate.Outcome<T>], Never>) {
        let tick = max(0.005, min(0.1, seconds / 4))
        watchdog.schedule(deadline: .now() + tick, repeating: tick)
        watchdog.setEventHandler { [self] in watch() }
        state.withLock { $0.continuation = c }
        watchdog.resume()
        for _ in 0..<lanes { addLane() }
    }

    private func addLane() {
        let lane = state.withLock { s -> Int in
            s.lanes += 1
            return s.lanes
        }
        // A thread of its own per lane: a stuck lane does not take a core's thread from the others.
        gate.onThread("nephometer.libvirt.lane") { [self] in run(lane: lane) }
    }

    private func run(lane: Int) {
        while true {
            // Take the next item whose key is free; busy ones are answered at once.
            let taken = state.withLock { s -> (Int, Double)? in
                while s.next < items.count {
                    let i = s.next
                    s.next += 1
                    let now = Time.monotonic()
                    if let since = gate.claim(items[i].key, at: now) {
                        s.outcomes[i] = .busy(since: since)
                        s.done += 1
                        continue
                    }
                    s.running[lane] = (i, now)
                    return (i, now)
                }
                return nil
            }
            guard let (i, _) = taken else {
                finishIfDone()
                return
            }
            let outcome: CallGate.Outcome<T>
            do { outcome = .value(try body(items[i].item)) } catch { outcome = .failed(error) }
            gate.release(items[i].key)
            let abandoned = state.withLock { s -> Bool in
                s.running[lane] = nil
                if s.abandoned.contains(lane) { return true }
                s.outcomes[i] = outcome
                s.done += 1
                return false
            }
            if abandoned { return }  // the watchdog gave up on this call; a fresh lane has the rest
        }
    }

    /// Gives up on calls past their deadline, each lane's thread left to its call.
    private func watch() {
        let now = Time.monotonic()
        let late = state.withLock { s -> Int in
            var n = 0
            for (lane, r) in s.running where now - r.since >= seconds && !s.abandoned.contains(lane) {
                s.abandoned.insert(lane)
                s.outcomes[r.index] = .timedOut
                s.done += 1
                n += 1
            }
            return n
        }
        for _ in 0..<late { addLane() }
        finishIfDone()
    }

    private func finishIfDone() {
        let finished = state.withLock { s -> ([CallGate.Outcome<T>], CheckedContinuation<[CallGate.Outcome<T>], Never>)? in
            guard s.done == items.count, let c = s.continuation else { return nil }
            s.continuation = nil
            return (s.outcomes.map { $0 ?? .timedOut }, c)
        }
        if let (outcomes, c) = finished {
            watchdog.cancel()
            c.resume(returning: outcomes)
        }
    }
}

/// Resumes a continuation with whichever result comes first.
final class ResumeOnce<T: Sendable>: Sendable {
    private let state: Mutex<CheckedContinuation<T, Never>?>
    init(_ c: CheckedContinuation<T, Never>) { state = Mutex(c) }
    func resume(_ value: T) {
        let c = state.withLock { s -> CheckedContinuation<T, Never>? in
            defer { s = nil }
            return s
        }
        c?.resume(returning: value)
    }
}
