/// Python's `str()` of values as Ceilometer's signature code sees them.
///
/// Top-level strings are used as they are; lists go through Ceilometer's `decode_unicode` first, so their
/// strings become `bytes` (`['a', 1]` renders as `[b'a', 1]`) and dicts inside lists get sorted keys.
enum PythonRepr {
    /// `str(value)` for a value that is not a dict (dicts are flattened by the caller).
    static func str(_ value: MetadataValue, into out: inout [UInt8]) {
        switch value {
        case .string(let s): out.append(contentsOf: s.utf8)
        case .array: reprDecoded(value, into: &out)
        default: reprDecoded(value, into: &out)
        }
    }

    /// `repr(decode_unicode(value))`.
    static func reprDecoded(_ value: MetadataValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "None".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "True" : "False").utf8)
        case .number(let n): out.append(contentsOf: n.pythonString.utf8)
        case .string(let s): bytesRepr(Array(s.utf8), into: &out)
        case .bytes(let b): bytesRepr(b, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                reprDecoded(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, entry) in o.entries.sorted(by: { Signature.precedes($0.key, $1.key) }).enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                bytesRepr(Array(entry.key.utf8), into: &out)
                out.append(contentsOf: ": ".utf8)
                reprDecoded(entry.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Python's `repr(bytes)`.
    static func bytesRepr(_ b: [UInt8], into out: inout [UInt8]) {
        let quote: UInt8 = (b.contains(0x27) && !b.contains(0x22)) ? 0x22 : 0x27
        out.append(UInt8(ascii: "b"))
        out.append(quote)
        for c in b {
            switch c {
            case quote, 0x5C: out.append(0x5C); out.append(c)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x20..<0x7F: out.append(c)
            default:
                out.append(contentsOf: "\\x".utf8)
                out.append(hex[Int(c >> 4)]); out.append(hex[Int(c & 0xF)])
            }
        }
        out.append(quote)
    }
}
