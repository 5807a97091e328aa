import CNephometerSHA256
import Crypto
import Testing

/// The C HMAC-SHA256 used to sign UDP datagrams equals swift-crypto's, on the SHA extensions and on
/// the portable code, for every message length around the block boundaries and for long keys.
@Suite(.serialized) struct HMACTests {
    static func ours(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var k = nephometer_hmac_key()
        key.withUnsafeBufferPointer { nephometer_hmac_init(&k, $0.baseAddress, $0.count) }
        var mac = [UInt8](repeating: 0, count: 32)
        message.withUnsafeBufferPointer { m in
            mac.withUnsafeMutableBufferPointer { nephometer_hmac(&k, m.baseAddress, m.count, $0.baseAddress) }
        }
        return mac
    }

    static func reference(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    func check(accelerated: Bool) {
        nephometer_sha256_set_accelerated(accelerated ? 1 : 0)
        defer { nephometer_sha256_set_accelerated(1) }
        var rng = SystemRandomNumberGenerator()
        for keyLength in [0, 1, 12, 63, 64, 65, 200] {
            let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for length in 0...300 {
                let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let got = Self.ours(key, message), want = Self.reference(key, message)
                if got != want {
                    Issue.record("key \(keyLength) bytes, message \(length) bytes: \(got) != \(want)")
                    return
                }
            }
        }
        // Pairs whose lengths differ by up to several blocks, through the interleaved path.
        let key = Array("bench-secret".utf8)
        var k = nephometer_hmac_key()
        key.withUnsafeBufferPointer { nephometer_hmac_init(&k, $0.baseAddress, $0.count) }
        for (la, lb) in [(0, 0), (1, 64), (63, 64), (64, 64), (119, 120), (1250, 1250), (1250, 1310), (700, 30), (129, 1000)] {
            let a = (0..<la).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let b = (0..<lb).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var ma = [UInt8](repeating: 0, count: 32), mb = [UInt8](repeating: 0, count: 32)
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    ma.withUnsafeMutableBufferPointer { oa in
                        mb.withUnsafeMutableBufferPointer { ob in
                            nephometer_hmac_x2(&k, pa.baseAddress, la, pb.baseAddress, lb, oa.baseAddress, ob.baseAddress)
                        }
                    }
                }
            }
            #expect(ma == Self.reference(key, a) && mb == Self.reference(key, b), "x2 with lengths \(la), \(lb)")
        }
        // RFC 4231 test case 2.
        let mac = Self.ours(Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(mac.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func portableMatchesSwiftCrypto() { check(accelerated: false) }

    @Test func acceleratedMatchesSwiftCrypto() {
        check(accelerated: true)
        // Which path ran is machine-dependent; report it so a run without SHA extensions is visible.
        print("HMACTests: SHA extensions \(nephometer_sha256_accelerated() == 1 ? "used" : "not present")")
    }

    @Test func plainSHA256() {
        var digest = [UInt8](repeating: 0, count: 32)
        let abc = Array("abc".utf8)
        abc.withUnsafeBufferPointer { a in digest.withUnsafeMutableBufferPointer { nephometer_sha256(a.baseAddress, a.count, $0.baseAddress) } }
        #expect(digest == Array(SHA256.hash(data: abc)))
    }
}
