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
        switch value {
        case .null: out.append(0xc0)
        case .bool(let b): out.append(b ? 0xc3 : 0xc2)
        case .number(let n): try encode(n, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .bytes(let b): writeBinary(b, into: &out)
        case .array(let items):
            writeArrayHeader(items.count, into: &out)
            for i in items { try encode(i, into: &out) }
        case .object(let o):
            writeMapHeader(o.count, into: &out)
            for (k, v) in o {
                writeString(k, into: &out)
                try encode(v, into: &out)
            }
        }
    }

    @inline(__always)
    public static func encode(_ n: Number, into out: inout [UInt8]) throws(Unencodable) {
        switch n {
        case .int(let v): writeInt(v, into: &out)
        case .uint(let v): writeUInt(v, into: &out)
        case .double(let d):
            out.append(0xcb)
            appendBigEndian(d.bitPattern, into: &out)
        case .big(let s):
            throw Unencodable(description: "integer \(s) does not fit in 64 bits")
        }
    }

    @inline(__always)
    static func appendBigEndian<T: FixedWidthInteger>(_ v: T, into out: inout [UInt8]) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { out.append(contentsOf: $0) }
    }

    @inline(__always)
    public static func writeInt(_ v: Int64, into out: inout [UInt8]) {
        if v >= 0 { writeUInt(UInt64(v), into: &out); return }
        if v >= -32 { out.append(UInt8(bitPattern: Int8(v))) }
        else if v >= Int64(Int8.min) { out.append(0xd0); out.append(UInt8(bitPattern: Int8(v))) }
        else if v >= Int64(Int16.min) { out.append(0xd1); appendBigEndian(Int16(v), into: &out) }
        else if v >= Int64(Int32.min) { out.append(0xd2); appendBigEndian(Int32(v), into: &out) }
        else { out.append(0xd3); appendBigEndian(v, into: &out) }
    }

    @inline(__always)
    public static func writeUInt(_ v: UInt64, into out: inout [UInt8]) {
        if v < 128 { out.append(UInt8(v)) }
        else if v <= UInt64(UInt8.max) { out.append(0xcc); out.append(UInt8(v)) }
        else if v <= UInt64(UInt16.max) { out.append(0xcd); appendBigEndian(UInt16(v), into: &out) }
        else if v <= UInt64(UInt32.max) { out.append(0xce); appendBigEndian(UInt32(v), into: &out) }
        else { out.append(0xcf); appendBigEndian(v, into: &out) }
    }

    @inline(__always)
    public static func writeString(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { utf8 in
            let n = utf8.count
            if n < 32 { out.append(0xa0 | UInt8(n)) }
            else if n <= 0xff { out.append(0xd9); out.append(UInt8(n)) }
            else if n <= 0xffff { out.append(0xda); appendBigEndian(UInt16(n), into: &out) }
            else { out.append(0xdb); appendBigEndian(UInt32(n), into: &out) }
            out.append(contentsOf: utf8)
        }
    }

    public static func writeBinary(_ b: [UInt8], into out: inout [UInt8]) {
        let n = b.count
        if n <= 0xff { out.append(0xc4); out.append(UInt8(n)) }
        else if n <= 0xffff { out.append(0xc5); appendBigEndian(UInt16(n), into: &out) }
        else { out.append(0xc6); appendBigEndian(UInt32(n), into: &out) }
        out.append(contentsOf: b)
    }

    @inline(__always)
    public static func writeArrayHeader(_ n: Int, into out: inout [UInt8]) {
        if n < 16 { out.append(0x90 | UInt8(n)) }
        else if n <= 0xffff { out.append(0xdc); appendBigEndian(UInt16(n), into: &out) }
        else { out.append(0xdd); appendBigEndian(UInt32(n), into: &out) }
    }

    @inline(__always)
    public static func writeMapHeader(_ n: Int, into out: inout [UInt8]) {
        if n < 16 { out.append(0x80 | UInt8(n)) }
        else if n <= 0xffff { out.append(0xde); appendBigEndian(UInt16(n), into: &out) }
        else { out.append(0xdf); appendBigEndian(UInt32(n), into: &out) }
    }
}
