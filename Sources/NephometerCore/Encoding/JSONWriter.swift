/// Writes JSON exactly as Python's `json.dumps` does with its defaults: `", "` and `": "` separators,
/// `ensure_ascii` (every non-ASCII character as `\uXXXX`, astral ones as surrogate pairs), floats as
/// Python's `repr`, `NaN`/`Infinity` literals. Ceilometer's file and HTTP publishers write this form.
public struct JSONWriter: Sendable {
    public init() {}

    public static func string(_ value: MetadataValue) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func string(_ object: MetadataObject) -> String { string(.object(object)) }

    public static func bytes(_ value: MetadataValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(value, into: &out)
        return out
    }

    public static func write(_ value: MetadataValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): writeNumber(n, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .bytes(let b): writeString(String(b.map { Character(Unicode.Scalar($0)) }), into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in o {
                if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                first = false
                writeString(k, into: &out)
                out.append(UInt8(ascii: ":")); out.append(UInt8(ascii: " "))
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeNumber(_ n: Number, into out: inout [UInt8]) {
        switch n {
        case .double(let d):
            if d.isNaN { out.append(contentsOf: "NaN".utf8) }
            else if d.isInfinite { out.append(contentsOf: (d < 0 ? "-Infinity" : "Infinity").utf8) }
            else { out.append(contentsOf: PythonFloat.repr(d).utf8) }
        default:
            out.append(contentsOf: n.pythonString.utf8)
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // ASCII (nearly every string here): over the UTF-8 storage, runs that need no escape copied
        // whole, the rest with the same mapping as the UTF-16 path, which handles everything else.
        var s = s
        s.makeContiguousUTF8()
        let done = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return false }
            var run = 0
            for i in 0..<bytes.count {
                let b = bytes[i]
                if b >= 0x20 && b < 0x7F && b != 0x22 && b != 0x5C { continue }
                if i > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i])) }
                appendEscaped(UInt16(b), into: &out)
                run = i + 1
            }
            if bytes.count > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...])) }
            return true
        } ?? false
        if !done { for unit in s.utf16 { appendEscaped(unit, into: &out) } }
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func appendEscaped(_ unit: UInt16, into out: inout [UInt8]) {
        switch unit {
        case 0x22: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
        case 0x5C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
        case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
        case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
        case 0x20...0x7E: out.append(UInt8(unit))
        default:
            out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "u"))
            out.append(hex[Int(unit >> 12) & 0xF]); out.append(hex[Int(unit >> 8) & 0xF])
            out.append(hex[Int(unit >> 4) & 0xF]); out.append(hex[Int(unit) & 0xF])
        }
    }
}
