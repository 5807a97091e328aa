import NephometerCore

/// A strict MessagePack decoder into `MetadataValue`, safe on hostile input: bounds-checked reads, a
/// nesting limit, and container counts checked against the bytes left before anything is allocated.
///
/// `str` must be valid UTF-8 (invalid UTF-8 is an error, not silently replaced); `bin` becomes `.bytes`;
/// float32 and float64 become doubles; an extension value becomes
/// `{"__ext__": type, "data": bytes}`; map keys must be strings.
public struct MsgPackDecoder {
    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public let offset: Int
        public let message: String
        public var description: String { "invalid msgpack at byte \(offset): \(message)" }
    }

    public static let maxDepth = 64

    private let b: [UInt8]
    private var i = 0

    private init(_ bytes: [UInt8]) { b = bytes }

    /// Decodes exactly one value filling the whole buffer.
    public static func decode(_ bytes: [UInt8]) throws(Error) -> MetadataValue {
        var d = MsgPackDecoder(bytes)
        let v = try d.value(depth: 0)
        guard d.i == bytes.count else { throw d.fail("\(bytes.count - d.i) trailing byte(s)") }
        return v
    }

    private func fail(_ m: String) -> Error { Error(offset: i, message: m) }

    private mutating func need(_ n: Int) throws(Error) {
        guard n >= 0, b.count - i >= n else { throw fail("truncated: need \(n) byte(s), \(b.count - i) left") }
    }

    private mutating func byte() throws(Error) -> UInt8 {
        try need(1)
        defer { i += 1 }
        return b[i]
    }

    private mutating func be<T: FixedWidthInteger>(_: T.Type) throws(Error) -> T {
        let n = MemoryLayout<T>.size
        try need(n)
        var v: T = 0
        for k in 0..<n { v = v << 8 | T(b[i + k]) }
        i += n
        return v
    }

    private mutating func bytes(_ n: Int) throws(Error) -> ArraySlice<UInt8> {
        try need(n)
        defer { i += n }
        return b[i..<(i + n)]
    }

    private mutating func string(_ n: Int) throws(Error) -> String {
        let start = i
        let raw = try bytes(n)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw Error(offset: start, message: "string is not valid UTF-8")
        }
        return s
    }

    private mutating func value(depth: Int) throws(Error) -> MetadataValue {
        guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        let t = try byte()
        switch t {
        case 0x00...0x7f: return .number(.int(Int64(t)))
        case 0x80...0x8f: return try map(Int(t & 0x0f), depth)
        case 0x90...0x9f: return try array(Int(t & 0x0f), depth)
        case 0xa0...0xbf: return .string(try string(Int(t & 0x1f)))
        case 0xc0: return .null
        case 0xc1: i -= 1; throw fail("reserved type byte 0xc1")
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xc4: return .bytes(Array(try bytes(Int(try byte()))))
        case 0xc5: return .bytes(Array(try bytes(Int(try be(UInt16.self)))))
        case 0xc6: return .bytes(Array(try bytes(Int(try be(UInt32.self)))))
        case 0xc7: let n = Int(try byte()); return try ext(n)
        case 0xc8: let n = Int(try be(UInt16.self)); return try ext(n)
        case 0xc9: let n = Int(try be(UInt32.self)); return try ext(n)
        case 0xca: return .number(.double(Double(Float(bitPattern: try be(UInt32.self)))))
        case 0xcb: return .number(.double(Double(bitPattern: try be(UInt64.self))))
        case 0xcc: return .number(.int(Int64(try byte())))
        case 0xcd: return .number(.int(Int64(try be(UInt16.self))))
        case 0xce: return .number(.int(Int64(try be(UInt32.self))))
        case 0xcf: return .number(Number(try be(UInt64.self)))
        case 0xd0: return .number(.int(Int64(Int8(bitPattern: try byte()))))
        case 0xd1: return .number(.int(Int64(try be(Int16.self))))
        case 0xd2: return .number(.int(Int64(try be(Int32.self))))
        case 0xd3: return .number(.int(try be(Int64.self)))
        case 0xd4: return try ext(1)
        case 0xd5: return try ext(2)
        case 0xd6: return try ext(4)
        case 0xd7: return try ext(8)
        case 0xd8: return try ext(16)
        case 0xd9: return .string(try string(Int(try byte())))
        case 0xda: return .string(try string(Int(try be(UInt16.self))))
        case 0xdb: return .string(try string(Int(try be(UInt32.self))))
        case 0xdc: return try array(Int(try be(UInt16.self)), depth)
        case 0xdd: return try array(Int(try be(UInt32.self)), depth)
        case 0xde: return try map(Int(try be(UInt16.self)), depth)
        case 0xdf: return try map(Int(try be(UInt32.self)), depth)
        default: return .number(.int(Int64(Int8(bitPattern: t))))  // 0xe0...0xff negative fixint
        }
    }

    private mutating func ext(_ n: Int) throws(Error) -> MetadataValue {
        let type = Int8(bitPattern: try byte())
        return .object(["__ext__": .int(Int(type)), "data": .bytes(Array(try bytes(n)))])
    }

    private mutating func array(_ n: Int, _ depth: Int) throws(Error) -> MetadataValue {
        // Every element takes at least one byte: reject impossible counts before allocating.
        guard n <= b.count - i else { throw fail("array of \(n) elements but only \(b.count - i) byte(s) left") }
        var out: [MetadataValue] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try value(depth: depth + 1)) }
        return .array(out)
    }

    private mutating func map(_ n: Int, _ depth: Int) throws(Error) -> MetadataValue {
        guard n <= (b.count - i) / 2 else { throw fail("map of \(n) entries but only \(b.count - i) byte(s) left") }
        var entries: [(String, MetadataValue)] = []
        entries.reserveCapacity(n)
        var seen = Set<String>()
        for _ in 0..<n {
            let at = i
            guard case .string(let k) = try value(depth: depth + 1) else { throw Error(offset: at, message: "map key is not a string") }
            guard seen.insert(k).inserted else { throw Error(offset: at, message: "duplicate map key '\(k)'") }
            entries.append((k, try value(depth: depth + 1)))
        }
        return .object(MetadataObject(entries))
    }
}
