import Logging
import Synchronization

/// Remembers which conditions were already logged, so a bad sample, a vanished VM or a dead host is
/// reported once rather than every cycle. `clear` re-arms a key when the condition ends.
public final class LogOnce: Sendable {
    private let seen = Mutex<Set<String>>([])
    public init() {}

    /// True the first time `key` is seen (until cleared).
    public func first(_ key: String) -> Bool {
        seen.withLock { $0.insert(key).inserted }
    }

    /// Forgets `key`; returns true if it was set (the condition had been reported and now ended).
    @discardableResult
    public func clear(_ key: String) -> Bool {
        seen.withLock { $0.remove(key) != nil }
    }

    public func log(_ logger: Logger, _ level: Logger.Level, key: String, _ message: @autoclosure () -> Logger.Message,
                    metadata: @autoclosure () -> Logger.Metadata? = nil) {
        if first(key) { logger.log(level: level, message(), metadata: metadata()) }
    }
}
