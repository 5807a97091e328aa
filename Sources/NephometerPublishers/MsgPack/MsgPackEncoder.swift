import NephometerCore

/// MessagePack encoding of `MetadataValue`, as Python's `msgpack.dumps(value, use_bin_type=True)`:
/// strings as `str` (str8 included), bytes as `bin`, integers in the smallest format, floats as float64,
/// maps in key order.
public enum MsgPackEncoder {
    public struct Unencodable: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func encode(_ value: MetadataValue) throws(Unencodable) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        try encode(value, into: &out)
        return out
    }

    public static func encode(_ value: MetadataValue, into out: inout [UInt8]) throws(Unencodable) {
        try write(value, into: &out)
    }

    public static func encode(_ n: Number, into out: inout [UInt8]) throws(Unencodable) {
        try write(n, into: &out)
    }

    static func write<S: MsgPackSink>(_ value: MetadataValue, into out: inout S) throws(Unencodable) {
        switch value {
        case .null: out.append(0xc0)
        case .bool(let b): out.append(b ? 0xc3 : 0xc2)
        case .number(let n): try write(n, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .bytes(let b): writeBinary(b, into: &out)
        case .array(let items):
            writeArrayHeader(items.count, into: &out)
            for i in items { try write(i, into: &out) }
        case .object(let o):
            writeMapHeader(o.count, into: &out)
            for (k, v) in o {
                writeString(k, into: &out)
                try write(v, into: &out)
            }
        }
    }

    @inline(__always)
    static func write<S: MsgPackSink>(_ n: Number, into out: inout S) throws(Unencodable) {
        switch n {
        case .int(let v): writeInt(v, into: &out)
        case .uint(let v): writeUInt(v, into: &out)
        case .double(let d):
            out.append(0xcb)
            out.appendBigEndian(d.bitPattern)
        case .big(let s):
            throw Unencodable(description: "integer \(s) does not fit in 64 bits")
        }
    }

    /// The smallest integer format.
    @inline(__always)
    static func writeInt<S: MsgPackSink>(_ v: Int64, into out: inout S) {
        if v >= 0 { writeUInt(UInt64(v), into: &out); return }
        if v >= -32 { out.append(UInt8(bitPattern: Int8(v))) }
        else if v >= Int64(Int8.min) { out.append(0xd0); out.append(UInt8(bitPattern: Int8(v))) }
        else if v >= Int64(Int16.min) { out.append(0xd1); out.appendBigEndian(Int16(v)) }
        else if v >= Int64(Int32.min) { out.append(0xd2); out.appendBigEndian(Int32(v)) }
        else { out.append(0xd3); out.appendBigEndian(v) }
    }

    @inline(__always)
    static func writeUInt<S: MsgPackSink>(_ v: UInt64, into out: inout S) {
        if v < 128 { out.append(UInt8(v)) }
        else if v <= UInt64(UInt8.max) { out.append(0xcc); out.append(UInt8(v)) }
        else if v <= UInt64(UInt16.max) { out.append(0xcd); out.appendBigEndian(UInt16(v)) }
        else if v <= UInt64(UInt32.max) { out.append(0xce); out.appendBigEndian(UInt32(v)) }
        else { out.append(0xcf); out.appendBigEndian(v) }
    }

    /// A `str` (always, as `use_bin_type=True` does for text).
    @inline(__always)
    static func writeString<S: MsgPackSink>(_ s: String, into out: inout S) {
        let n = s.utf8.count
        if n < 32 { out.append(0xa0 | UInt8(n)) }
        else if n <= 0xff { out.append(0xd9); out.append(UInt8(n)) }
        else if n <= 0xffff { out.append(0xda); out.appendBigEndian(UInt16(n)) }
        else { out.append(0xdb); out.appendBigEndian(UInt32(n)) }
        out.appendUTF8(s)
    }

    static func writeBinary<S: MsgPackSink>(_ b: [UInt8], into out: inout S) {
        let n = b.count
        if n <= 0xff { out.append(0xc4); out.append(UInt8(n)) }
        else if n <= 0xffff { out.append(0xc5); out.appendBigEndian(UInt16(n)) }
        else { out.append(0xc6); out.appendBigEndian(UInt32(n)) }
        out.append(b)
    }

    @inline(__always)
    static func writeArrayHeader<S: MsgPackSink>(_ n: Int, into out: inout S) {
        if n < 16 { out.append(0x90 | UInt8(n)) }
        else if n <= 0xffff { out.append(0xdc); out.appendBigEndian(UInt16(n)) }
        else { out.append(0xdd); out.appendBigEndian(UInt32(n)) }
    }

    @inline(__always)
    static func writeMapHeader<S: MsgPackSink>(_ n: Int, into out: inout S) {
        if n < 16 { out.append(0x80 | UInt8(n)) }
        else if n <= 0xffff { out.append(0xde); out.appendBigEndian(UInt16(n)) }
        else { out.append(0xdf); out.appendBigEndian(UInt32(n)) }
    }
}

/// Where msgpack bytes go: a `[UInt8]`, or the UDP encoder's `ByteWriter`.
protocol MsgPackSink {
    mutating func append(_ byte: UInt8)
    mutating func append(_ bytes: [UInt8])
    mutating func appendBigEndian<T: FixedWidthInteger>(_ v: T)
    mutating func appendUTF8(_ s: String)
}

extension Array: MsgPackSink where Element == UInt8 {
    @inline(__always) mutating func append(_ bytes: [UInt8]) { append(contentsOf: bytes) }

    @inline(__always) mutating func appendBigEndian<T: FixedWidthInteger>(_ v: T) {
        var be = v.bigEndian
        Swift.withUnsafeBytes(of: &be) { append(contentsOf: $0) }
    }

    @inline(__always) mutating func appendUTF8(_ s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }
}

extension ByteWriter: MsgPackSink {}
