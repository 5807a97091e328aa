import Synchronization

/// A JSON-like value tree that keeps object key order, as Python dicts do.
///
/// Used for `resource_metadata`, the meter message, and anything that must be rendered byte-for-byte like
/// Ceilometer renders it (JSON, signatures, msgpack).
public enum MetadataValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Number)
    case string(String)
    case array([MetadataValue])
    case object(MetadataObject)
    /// Raw bytes (msgpack `bin`); rendered in JSON as a string of latin-1 code points.
    case bytes([UInt8])

    public static func int(_ v: Int) -> MetadataValue { .number(.int(Int64(v))) }
    public static func double(_ v: Double) -> MetadataValue { .number(.double(v)) }
    public static func optionalString(_ v: String?) -> MetadataValue { v.map { .string($0) } ?? .null }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var objectValue: MetadataObject? {
        if case .object(let o) = self { return o }
        return nil
    }
    public var numberValue: Number? {
        if case .number(let n) = self { return n }
        return nil
    }
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Looks up a key when this is an object.
    public subscript(key: String) -> MetadataValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

/// An insertion-ordered string-keyed map. Setting an existing key keeps its position (as Python dicts do).
public struct MetadataObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: MetadataValue)] {
        didSet { renderings = nil }
    }
    /// Renderings shared by every copy of a long-lived tree (`sharingRenderings()`); any change to this
    /// copy drops them, so they always match the entries. Not part of equality or hashing.
    public private(set) var renderings: MetadataRenderings?

    /// This tree with a box for its renderings, which copies share: a producer that hands the same tree
    /// to many samples, cycle after cycle (compute discovery), has its JSON rendered once.
    public func sharingRenderings() -> MetadataObject {
        var m = self
        if m.renderings == nil { m.renderings = MetadataRenderings() }
        return m
    }

    /// `json.dumps(self)`, rendered once per tree when it shares renderings.
    public var json: [UInt8] {
        guard let r = renderings else { return JSONWriter.bytes(.object(self)) }
        return r.json.withLock { cached in
            if let cached { return cached }
            let bytes = JSONWriter.bytes(.object(self))
            cached = bytes
            return bytes
        }
    }

    public init() { entries = []; renderings = nil }
    public init(_ entries: [(String, MetadataValue)]) {
        renderings = nil
        self.entries = []
        self.entries.reserveCapacity(entries.count)
        for (k, v) in entries { self[k] = v }
    }
    public init(dictionaryLiteral elements: (String, MetadataValue)...) { self.init(elements) }

    public var count: Int { entries.count }

    /// The address of the entries' storage: equal for copies that share it (copy-on-write), so encoders
    /// can cache per tree. Holding a copy keeps the storage alive, so an equal address means equal content.
    public var storageIdentity: UnsafeRawPointer? {
        entries.withUnsafeBufferPointer { $0.baseAddress.map { UnsafeRawPointer($0) } }
    }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> MetadataValue? {
        get {
            // Comparing lengths first skips most keys without a string comparison.
            let n = key.utf8.count
            for e in entries where e.key.utf8.count == n && e.key == key { return e.value }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let v = newValue { entries[i].value = v } else { entries.remove(at: i) }
            } else if let v = newValue {
                entries.append((key, v))
            }
        }
    }

    /// Makes room for `n` entries in this tree's own storage (drops shared renderings, as any change).
    public mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    /// Adds or replaces every key of `other`, like Python's `dict.update`.
    public mutating func update(with other: MetadataObject) {
        for (k, v) in other.entries { self[k] = v }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: MetadataValue)]> {
        entries.makeIterator()
    }

    public static func == (lhs: MetadataObject, rhs: MetadataObject) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries.count)
        for e in entries { hasher.combine(e.key); hasher.combine(e.value) }
    }
}

/// The renderings of one `MetadataObject` tree, filled on first use (any thread).
public final class MetadataRenderings: Sendable {
    let json = Mutex<[UInt8]?>(nil)
    init() {}
}
