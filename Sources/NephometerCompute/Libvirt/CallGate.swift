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
    private let calls = Mutex<[String: Double]>([:])

    public init(label: String) {
        self.label = label
    }

    /// Keys whose calls are still running, with when each started.
    public var busyKeys: [String: Double] { calls.withLock { $0 } }

    public func isBusy(_ key: String) -> Bool { calls.withLock { $0[key] != nil } }

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
            // A serial queue of its own per call: serial queues run on libdispatch's overcommitting
            // threads, which grow when one blocks. (A concurrent queue runs on as many threads as there
            // are cores — two here — so two stuck calls would stall every other domain.)
            DispatchQueue(label: label).async { [self] in
                let outcome: Outcome<T>
                do { outcome = .value(try body()) } catch { outcome = .failed(error) }
                self.calls.withLock { _ = $0.removeValue(forKey: key) }
                timer.cancel()
                gate.resume(outcome)
            }
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
