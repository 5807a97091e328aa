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
        var h1: UInt64 = 0xcbf29ce484222325
        var h2: UInt64 = 0x84222325cbf29ce4
        for byte in tag.utf8 { h1 = (h1 ^ UInt64(byte)) &* 0x100000001b3; h2 = (h2 ^ UInt64(byte)) &* 0x100000001b3 &+ 7 }
        h1 = (h1 ^ 0xff) &* 0x100000001b3
        for byte in id.utf8 { h1 = (h1 ^ UInt64(byte)) &* 0x100000001b3; h2 = (h2 ^ UInt64(byte)) &* 0x100000001b3 &+ 7 }
        return format(mix(h1), mix(h2 ^ h1), version: 8)
    }

    /// A version-8 UUID derived from `id` and an accumulated derivation salt.
    public static func derived(from id: String, salt: UInt64) -> String {
        var h1: UInt64 = 0xcbf29ce484222325 ^ salt
        var h2: UInt64 = 0x84222325cbf29ce4 &+ salt
        for byte in id.utf8 { h1 = (h1 ^ UInt64(byte)) &* 0x100000001b3; h2 = (h2 ^ UInt64(byte)) &* 0x100000001b3 &+ 7 }
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
            var i = 0
            func put(_ v: UInt64, _ nibbles: Int) {
                for k in stride(from: nibbles - 1, through: 0, by: -1) {
                    let d = UInt8((v >> (UInt64(k) * 4)) & 0xf)
                    buf[i] = d < 10 ? 0x30 + d : 0x57 + d
                    i += 1
                }
            }
            put(a >> 32, 8); buf[i] = 0x2d; i += 1
            put((a >> 16) & 0xffff, 4); buf[i] = 0x2d; i += 1
            put(a & 0xffff, 4); buf[i] = 0x2d; i += 1
            put(b >> 48, 4); buf[i] = 0x2d; i += 1
            put(b & 0xffff_ffff_ffff, 12)
            return 36
        }
    }
}
