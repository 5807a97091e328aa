import NephometerCore

/// A sample is the scope of transformer expressions (passed borrowed, never copied).
extension Sample: ExpressionScope {
    public func lookup(_ path: ArraySlice<String>) -> ExpressionValue { SampleFields.value(self, path) }

    public func lookup(resolved path: ResolvedPath) -> ExpressionValue {
        switch path.root {
        case .volume: return path.names.count == 1 ? .number(volume) : .missing
        case .resourceMetadata: return ExpressionValue.from(resourceMetadata, path: path.names.dropFirst())
        case .other: return SampleFields.value(self, path.names[...])
        }
    }
}

/// Expression access to a sample's fields, as Ceilometer's `Namespace(sample.as_dict())` gives.
enum SampleFields {
    static func value(_ s: Sample, _ path: ArraySlice<String>) -> ExpressionValue {
        guard let first = path.first else { return .missing }
        let rest = path.dropFirst()
        // The two names scales use, first: `volume` and `resource_metadata`.
        if first.utf8.count == 6, first == "volume" { return rest.isEmpty ? .number(s.volume) : .missing }
        if first.utf8.count == 17, first == "resource_metadata" { return ExpressionValue.from(.object(s.resourceMetadata), path: rest) }
        switch first {
        case "volume": return rest.isEmpty ? .number(s.volume) : .missing
        case "resource_metadata": return ExpressionValue.from(.object(s.resourceMetadata), path: rest)
        case "name": return rest.isEmpty ? .string(s.name) : .missing
        case "unit": return rest.isEmpty ? .string(s.unit) : .missing
        case "type": return rest.isEmpty ? .string(s.type.rawValue) : .missing
        case "resource_id": return rest.isEmpty ? .string(s.resourceID) : .missing
        case "user_id": return s.userID.map { .string($0) } ?? .missing
        case "project_id": return s.projectID.map { .string($0) } ?? .missing
        case "user_name": return s.userName.map { .string($0) } ?? .missing
        case "project_name": return s.projectName.map { .string($0) } ?? .missing
        case "timestamp": return s.timestamp.map { .string($0) } ?? .missing
        case "source": return .string(s.source)
        case "id": return .string(s.id)
        case "monotonic_time": return s.monotonicTime.map { .number(.double($0)) } ?? .missing
        default: return .missing
        }
    }

    /// Seconds for a sample's position in time: its timestamp (epoch seconds), or nil if unparseable.
    static func timestamp(_ s: Sample) -> Double? { s.timestamp.flatMap(Time.parseISO) }
}

/// A series: one meter of one resource.
struct SeriesKey: Hashable {
    let name: String
    let resourceID: String
}

/// A bounded state table: entries remember when they were last touched and the gap
/// between their last two touches (their own polling interval), so idle entries can be dropped.
struct StateTable<Key: Hashable, Value> {
    struct Entry {
        var value: Value
        var lastSeen: Double
        var interval: Double?
    }
    private(set) var entries: [Key: Entry] = [:]

    var count: Int { entries.count }
    subscript(key: Key) -> Value? { entries[key]?.value }

    mutating func set(_ key: Key, _ value: Value, now: Double) {
        if let i = entries.index(forKey: key) {
            let gap = now - entries.values[i].lastSeen
            if gap > 0 { entries.values[i].interval = gap }
            entries.values[i].value = value
            entries.values[i].lastSeen = now
        } else {
            entries[key] = Entry(value: value, lastSeen: now, interval: nil)
        }
    }

    /// One hash lookup for read-then-maybe-write: returns the previous value and, when `store` says so
    /// for it, replaces it with `value` (a touch, as `set`).
    mutating func exchange(_ key: Key, _ value: Value, now: Double, store: (Value?) -> Bool) -> Value? {
        func apply(_ slot: inout Entry?) -> Value? {
            let previous = slot?.value
            guard store(previous) else { return previous }
            if let seen = slot?.lastSeen {
                if now - seen > 0 { slot?.interval = now - seen }
                slot?.value = value
                slot?.lastSeen = now
            } else {
                slot = Entry(value: value, lastSeen: now, interval: nil)
            }
            return previous
        }
        return apply(&entries[key])
    }

    /// Keeps the value but does not count as a touch (used when restoring a previous value).
    mutating func restore(_ key: Key, _ value: Value) {
        entries[key]?.value = value
    }

    mutating func remove(_ key: Key) { entries[key] = nil }
    mutating func removeAll() { entries.removeAll(keepingCapacity: true) }

    mutating func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int {
        let before = entries.count
        entries = entries.filter { now - $0.value.lastSeen <= idleIntervals * max($0.value.interval ?? defaultInterval, 1) }
        return before - entries.count
    }
}
