/// Columns of one conceptual table, walked in lockstep (all columns in each request).
public struct TableSpec: Sendable, Hashable {
    public let name: String
    /// Column OIDs (the entry OID plus the column number); rows are keyed by the index after them.
    public let columns: [OID]
    public init(name: String, columns: [OID]) {
        self.name = name
        self.columns = columns
    }
}

/// One row of a walked table: the index suffix and a value per column (nil when the agent has none).
public struct TableRow: Sendable, Hashable {
    public let index: [UInt]
    public var values: [SNMPValue?]
}

/// The walk of one table with GETBULK (or GETNEXT for v1): tracks each column's position, stops a
/// column when the agent leaves it, and collects rows. Pure logic; the engine does the I/O.
struct TableWalk {
    let spec: TableSpec
    private(set) var position: [OID]
    private(set) var active: [Bool]
    private var rowIndex: [[UInt]: Int] = [:]
    private(set) var rows: [TableRow] = []
    /// Columns asked for in the request in flight, in varbind order.
    private(set) var asked: [Int] = []
    static let maxRows = 100_000

    init(spec: TableSpec) {
        self.spec = spec
        position = spec.columns
        active = Array(repeating: true, count: spec.columns.count)
    }

    var finished: Bool { !active.contains(true) }

    /// The OIDs of the next request (the active columns' positions).
    mutating func nextRequest() -> [OID] {
        asked = active.indices.filter { active[$0] }
        return asked.map { position[$0] }
    }

    /// Consumes a response to the last request; returns how many rows of values it carried.
    @discardableResult
    mutating func consume(_ varbinds: [(OID, SNMPValue)]) -> Int {
        let k = asked.count
        guard k > 0 else { return 0 }
        if varbinds.isEmpty {
            for c in asked { active[c] = false }
            return 0
        }
        var progressed = Set<Int>()
        for (i, (oid, value)) in varbinds.enumerated() {
            let c = asked[i % k]
            guard active[c] else { continue }
            let column = spec.columns[c]
            if case .endOfMibView = value { active[c] = false; continue }
            guard oid.isUnder(column), OID.oidLess(position[c], oid) else { active[c] = false; continue }
            position[c] = oid
            progressed.insert(c)
            let index = Array(oid[column.count...])
            if let r = rowIndex[index] {
                rows[r].values[c] = value
            } else {
                guard rows.count < Self.maxRows else { active = active.map { _ in false }; break }
                var values = [SNMPValue?](repeating: nil, count: spec.columns.count)
                values[c] = value
                rowIndex[index] = rows.count
                rows.append(TableRow(index: index, values: values))
            }
        }
        // A column the agent did not advance (short response) would loop forever: stop it.
        for c in asked where active[c] && !progressed.contains(c) { active[c] = false }
        return (varbinds.count + k - 1) / k
    }

    /// Stops one column (v1 noSuchName at the end of the MIB).
    mutating func stop(askedPosition: Int) {
        if askedPosition >= 0 && askedPosition < asked.count { active[asked[askedPosition]] = false }
    }

    mutating func stopAll() { active = active.map { _ in false } }
}
