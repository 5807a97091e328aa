/// An SNMP object identifier as its sub-identifiers.
public typealias OID = [UInt]

extension Array where Element == UInt {
    /// Parses dotted decimal (`1.3.6.1.2.1.1.3.0`, a leading dot allowed); nil when malformed.
    public init?(dotted text: String) {
        var out: [UInt] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: false).dropFirst(text.hasPrefix(".") ? 1 : 0) {
            guard let v = UInt(part) else { return nil }
            out.append(v)
        }
        guard out.count >= 2 else { return nil }
        self = out
    }

    /// Dotted decimal without a leading dot.
    public var dotted: String { map(String.init).joined(separator: ".") }

    /// True when `prefix` is a proper prefix of this OID.
    func isUnder(_ prefix: OID) -> Bool {
        count > prefix.count && self[..<prefix.count].elementsEqual(prefix)
    }

    /// Lexicographic order of OIDs (`1.3.6.1.2` < `1.3.6.1.10`, prefix first).
    static func oidLess(_ a: OID, _ b: OID) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x < y }
        return a.count < b.count
    }
}

/// A value of a variable binding, as the agent typed it.
public enum SNMPValue: Sendable, Hashable {
    case integer(Int64)
    case string([UInt8])
    case objectID(OID)
    case ipAddress([UInt8])
    case counter32(UInt32)
    case gauge32(UInt32)
    case timeTicks(UInt32)
    case counter64(UInt64)
    case opaque([UInt8])
    case null
    /// The agent has no such object (v2c/v3 exception), or answered noSuchName (v1).
    case noSuchObject
    case noSuchInstance
    case endOfMibView

    /// False for the exception values.
    public var exists: Bool {
        switch self {
        case .noSuchObject, .noSuchInstance, .endOfMibView, .null: return false
        default: return true
        }
    }

    /// The value as an unsigned integer when it is numeric and non-negative.
    public var unsigned: UInt64? {
        switch self {
        case .integer(let v): return v >= 0 ? UInt64(v) : nil
        case .counter32(let v), .gauge32(let v), .timeTicks(let v): return UInt64(v)
        case .counter64(let v): return v
        case .string(let b): return UInt64(String(decoding: b, as: UTF8.self).trimmingSpaces)
        default: return nil
        }
    }

    /// The value as a signed integer when it is numeric.
    public var signed: Int64? {
        if case .integer(let v) = self { return v }
        return unsigned.flatMap { $0 <= UInt64(Int64.max) ? Int64($0) : nil }
    }

    /// Text of an OCTET STRING (UTF-8, invalid bytes replaced), or the decimal form of a number.
    public var text: String? {
        switch self {
        case .string(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let v): return String(v)
        case .ipAddress(let b): return b.map(String.init).joined(separator: ".")
        default: return unsigned.map(String.init)
        }
    }

    /// True for Counter32 (the values that wrap at 2^32).
    public var isCounter32: Bool {
        if case .counter32 = self { return true }
        return false
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
