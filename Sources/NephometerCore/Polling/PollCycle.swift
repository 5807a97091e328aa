import Synchronization

/// State shared by all pollsters during one polling cycle: a cache keyed by string, so that work one
/// pollster did (a bulk stats call, an SNMP walk, a discovery) is reused by the others.
///
/// Concurrent requests for the same key share one computation.
public actor PollCycle {
    public nonisolated let number: Int
    /// Unique for the life of the process (object identity can be reused after deallocation).
    public nonisolated let id: UInt64
    private var entries: [String: Task<any Sendable, any Error>] = [:]
    private static let counter = Atomic<UInt64>(0)

    public init(number: Int = 0) {
        self.number = number
        id = Self.counter.add(1, ordering: .relaxed).newValue
    }

    public func cached<T: Sendable>(_ key: String, _ make: @escaping @Sendable () async throws -> T) async throws -> T {
        if let task = entries[key] {
            guard let v = try await task.value as? T else { throw CycleCacheTypeError(key: key) }
            return v
        }
        let task = Task<any Sendable, any Error> { try await make() }
        entries[key] = task
        guard let v = try await task.value as? T else { throw CycleCacheTypeError(key: key) }
        return v
    }
}

struct CycleCacheTypeError: Error, CustomStringConvertible {
    let key: String
    var description: String { "cycle cache entry '\(key)' holds a value of another type" }
}
