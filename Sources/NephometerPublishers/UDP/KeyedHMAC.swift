import CNephometerSHA256

/// HMAC-SHA256 with the key's inner and outer pad blocks hashed once, at construction.
///
/// Each message then costs its own blocks plus one outer block, in C on the CPU's SHA extensions
/// when it has them, with no allocation (swift-crypto's HMAC allocates digest contexts per message).
/// `hex(of:to:and:to:)` signs two messages with their rounds interleaved, about 1.5x faster.
struct KeyedHMAC: Sendable {
    private var key = nephometer_hmac_key()

    init(key secret: [UInt8]) {
        secret.withUnsafeBufferPointer { nephometer_hmac_init(&key, $0.baseAddress, $0.count) }
    }

    /// Writes the MAC of `message` as 64 lowercase hex digits at `destination`.
    func hex(of message: UnsafeRawBufferPointer, to destination: UnsafeMutablePointer<UInt8>) {
        var mac = Self.zero
        withUnsafeMutableBytes(of: &mac) { m in
            withUnsafePointer(to: key) { k in nephometer_hmac(k, Self.bytes(message), message.count, Self.bytes(m)) }
            Self.writeHex(UnsafeRawBufferPointer(m), to: destination)
        }
    }

    /// `hex(of:to:)` for two messages at once.
    func hex(of a: UnsafeRawBufferPointer, to da: UnsafeMutablePointer<UInt8>,
             and b: UnsafeRawBufferPointer, to db: UnsafeMutablePointer<UInt8>) {
        var macA = Self.zero, macB = Self.zero
        withUnsafeMutableBytes(of: &macA) { ma in
            withUnsafeMutableBytes(of: &macB) { mb in
                withUnsafePointer(to: key) { k in
                    nephometer_hmac_x2(k, Self.bytes(a), a.count, Self.bytes(b), b.count, Self.bytes(ma), Self.bytes(mb))
                }
                Self.writeHex(UnsafeRawBufferPointer(ma), to: da)
                Self.writeHex(UnsafeRawBufferPointer(mb), to: db)
            }
        }
    }

    private static var zero: (UInt64, UInt64, UInt64, UInt64) { (0, 0, 0, 0) }

    private static func bytes(_ p: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
        p.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }

    private static func bytes(_ p: UnsafeMutableRawBufferPointer) -> UnsafeMutablePointer<UInt8>? {
        p.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }

    private static func writeHex(_ mac: UnsafeRawBufferPointer, to destination: UnsafeMutablePointer<UInt8>) {
        var i = 0
        for b in mac {
            let hi = b >> 4, lo = b & 0xf
            destination[i] = hi < 10 ? 0x30 + hi : 0x57 + hi
            destination[i + 1] = lo < 10 ? 0x30 + lo : 0x57 + lo
            i += 2
        }
    }
}
