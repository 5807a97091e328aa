/// Lowercase hexadecimal text of bytes (digests, signatures, ids).
public enum Hex {
    public static func string<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            let hi = b >> 4, lo = b & 0xF
            out.append(hi < 10 ? 0x30 + hi : 0x57 + hi)
            out.append(lo < 10 ? 0x30 + lo : 0x57 + lo)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
