import Dispatch

/// A serial queue for blocking work — file writes, `fsync`, `flock`, `getaddrinfo`, C libraries — so
/// none of it runs on Swift's cooperative pool, which has one thread per core (two on our machines):
/// one blocked thread there stalls half of every task in the process.
///
/// Work runs in submission order on a thread of the queue's own; callers await the result.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            queue.async {
                do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
            }
        }
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            queue.async { c.resume(returning: body()) }
        }
    }

    /// Runs `body` without waiting for it.
    public func async(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}
