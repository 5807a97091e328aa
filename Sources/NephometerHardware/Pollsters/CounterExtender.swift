/// Extends 32-bit counters to 64 bits across polls, so a cumulative meter fed by a Counter32 keeps
/// rising through a wrap instead of dropping by 2^32. Kept per host; `reset` after an agent restart
/// (sysUpTime went backwards), when a drop is a real reset and not a wrap.
public struct CounterExtender: Sendable {
    struct Entry: Sendable {
        var last: UInt32
        var high: UInt64
    }
    private var entries: [OID: Entry] = [:]

    public init() {}

    /// The 64-bit value of the counter `key` whose current 32-bit reading is `raw`.
    public mutating func extend(_ key: OID, _ raw: UInt32) -> UInt64 {
        guard var e = entries[key] else {
            entries[key] = Entry(last: raw, high: 0)
            return UInt64(raw)
        }
        if raw < e.last { e.high &+= 1 << 32 }
        e.last = raw
        entries[key] = e
        return e.high &+ UInt64(raw)
    }

    /// Forgets every counter (the agent restarted: its counters started again from zero).
    public mutating func reset() { entries.removeAll(keepingCapacity: true) }

    /// How many counters are tracked.
    public var count: Int { entries.count }
}
