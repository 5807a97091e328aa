import Synchronization

/// Message ids for samples, in UUID text form.
///
/// Fresh ids are random (version 4). Ids of samples a transformer derives from another are a
/// deterministic function of the input id and the transformer, so a sample re-derived after a restart or
/// a retry carries the same id and receivers can de-duplicate it.
public enum MessageID {
    private static let state = Mutex<(UInt64, UInt64)>(seed())

    private static func seed() -> (UInt64, UInt64) {
        var g = SystemRandomNumberGenerator()
        return (g.next() | 1, g.next())
    }

    /// A random version-4 UUID string.
    public static func make() -> String {
        let (a, b) = state.withLock { s -> (UInt64, UInt64) in
            // xorshift128+; seeded from the system generator, not for cryptographic use.
            var s1 = s.0
            let s0 = s.1
            s.0 = s0
            s1 ^= s1 << 23
            s.1 = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26)
            let r1 = s.1 &+ s0
            var t1 = s.0
            let t0 = s.1
            s.0 = t0
            t1 ^= t1 << 23
            s.1 = t1 ^ t0 ^ (t1 >> 17) ^ (t0 >> 26)
            return (mix(r1), mix(s.1 &+ t0))
        }
        return format(a, b, version: 4)
    }

    /// A version-8 UUID derived from `id` and `tag` (stable across processes).
    public static func derived(from id: String, tag: String) -> String {
        derived(from: id, salt: fold(0, tagHash: tagHash(tag)))
    }

    /// A version-8 UUID derived from `id` and an accumulated derivation salt (stable across processes).
    public static func derived(from id: String, salt: UInt64) -> String {
        var id = id
        let (h1, h2) = id.withUTF8 { bytes -> (UInt64, UInt64) in
            // Eight bytes at a time, two independent multiply chains (an id is 36 bytes: five steps).
            let raw = UnsafeRawBufferPointer(bytes)
            var h1: UInt64 = 0xcbf29ce484222325 ^ salt
            var h2: UInt64 = 0x84222325cbf29ce4 &+ salt
            var i = 0
            while i <= raw.count {
                var w: UInt64
                if i + 8 <= raw.count {
                    w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                } else {
                    // The tail, with its length in the top byte.
                    w = UInt64(raw.count - i) << 56
                    var shift: UInt64 = 0
                    for j in i..<raw.count { w |= UInt64(raw[j]) << shift; shift += 8 }
                }
                let x1 = (h1 ^ w) &* 0x9e3779b97f4a7c15, x2 = (h2 ^ w) &* 0xc2b2ae3d27d4eb4f
                h1 = (x1 << 29) | (x1 >> 35)
                h2 = (x2 << 31) | (x2 >> 33)
                i += 8
            }
            return (h1, h2)
        }
        return format(mix(h1), mix(h2 ^ h1), version: 8)
    }

    /// Folds a transformer's tag into a pending derivation salt (order matters).
    public static func fold(_ salt: UInt64, tag: String) -> UInt64 { fold(salt, tagHash: tagHash(tag)) }

    /// A tag's hash, computed once per transformer.
    public static func tagHash(_ tag: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for byte in tag.utf8 { h = (h ^ UInt64(byte)) &* 0x100000001b3 }
        return h
    }

    @inline(__always)
    public static func fold(_ salt: UInt64, tagHash: UInt64) -> UInt64 {
        mix((salt == 0 ? 0x9e3779b97f4a7c15 : salt) ^ tagHash) | 1
    }

    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e3779b97f4a7c15
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }

    static func format(_ hi: UInt64, _ lo: UInt64, version: UInt64) -> String {
        let a = (hi & 0xffff_ffff_ffff_0fff) | (version << 12)
        let b = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { buf in
            // 8-4-4-4-12 hex digits: a's 16 nibbles then b's, most significant first.
            var o = 0
            var k: UInt64 = 64
            while k > 32 { k &-= 4; buf[o] = hexDigit(a, k); o &+= 1 }
            buf[o] = 0x2d; o &+= 1
            while k > 16 { k &-= 4; buf[o] = hexDigit(a, k); o &+= 1 }
            buf[o] = 0x2d; o &+= 1
            while k > 0 { k &-= 4; buf[o] = hexDigit(a, k); o &+= 1 }
            buf[o] = 0x2d; o &+= 1
            k = 64
            while k > 48 { k &-= 4; buf[o] = hexDigit(b, k); o &+= 1 }
            buf[o] = 0x2d; o &+= 1
            while k > 0 { k &-= 4; buf[o] = hexDigit(b, k); o &+= 1 }
            return 36
        }
    }

    @inline(__always) private static func hexDigit(_ v: UInt64, _ shift: UInt64) -> UInt8 {
        let d = UInt8(truncatingIfNeeded: v &>> shift) & 0xf
        return d &+ (d < 10 ? 0x30 : 0x57)
    }
}
