import Synchronization

/// State shared by all pollsters during one polling cycle: a cache keyed by string, so that work one
/// pollster did (a bulk stats call, an SNMP walk, a discovery) is reused by the others.
///
/// Concurrent requests for the same key share one computation.
public actor PollCycle {
    public nonisolated let number: Int
    /// Unique for the life of the process (object identity can be reused after deallocation).
    public nonisolated let id: UInt64
    private enum Entry {
        /// Being computed by its first caller; later callers wait here.
        case running([CheckedContinuation<Result<any Sendable, any Error>, Never>])
        case done(Result<any Sendable, any Error>)
    }
    private var entries: [String: Entry] = [:]
    private var unread: [String: String] = [:]
    private var failed: [String] = []
    private static let counter = Atomic<UInt64>(0)

    public init(number: Int = 0) {
        self.number = number
        id = Self.counter.add(1, ordering: .relaxed).newValue
    }

    /// The value of `key` in this cycle: computed by the first caller, shared with every later or
    /// concurrent one (a failure too).
    public func cached<T: Sendable>(_ key: String, _ make: @escaping @Sendable () async throws -> T) async throws -> T {
        let result: Result<any Sendable, any Error>
        switch entries[key] {
        case .done(let r):
            result = r
        case .running:
            result = await withCheckedContinuation { c in
                if case .running(let waiting) = entries[key] { entries[key] = .running(waiting + [c]) }
            }
        case nil:
            // The first caller computes the value itself, on its own executor (a task made here would
            // run on the global pool instead); meanwhile the actor serves the other callers.
            entries[key] = .running([])
            do { result = .success(try await make()) } catch { result = .failure(error) }
            if case .running(let waiting) = entries[key] { for w in waiting { w.resume(returning: result) } }
            entries[key] = .done(result)
        }
        guard let v = try result.get() as? T else { throw CycleCacheTypeError(key: key) }
        return v
    }
}

extension PollCycle {
    /// What a cycle could not do, for `poll --once` (which exits non-zero when this is not empty) and
    /// the status page.
    public struct Problems: Sendable, Hashable {
        /// Resources that were due but could not be read, with why (a domain that missed its deadline).
        public var unreadResources: [String: String]
        /// Discoveries and pollsters that failed as a whole.
        public var failures: [String]
        public var isEmpty: Bool { unreadResources.isEmpty && failures.isEmpty }
        public init(unreadResources: [String: String] = [:], failures: [String] = []) {
            self.unreadResources = unreadResources
            self.failures = failures
        }
    }

    /// Records that `resource` could not be read in this cycle.
    public func couldNotRead(_ resource: String, because reason: String) {
        if unread[resource] == nil { unread[resource] = reason }
    }

    /// Records that a discovery or pollster failed as a whole in this cycle.
    public func failed(_ what: String) {
        if !failed.contains(what) { failed.append(what) }
    }

    public var problems: Problems { Problems(unreadResources: unread, failures: failed) }
}

struct CycleCacheTypeError: Error, CustomStringConvertible {
    let key: String
    var description: String { "cycle cache entry '\(key)' holds a value of another type" }
}
