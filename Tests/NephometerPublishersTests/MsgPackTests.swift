import Foundation
import NephometerCore
import NephometerPublishers
import PropertyBased
import Testing
import TestSupport

@Suite struct MsgPackTests {
    func hex(_ v: MetadataValue) throws -> String {
        Hex.string(try MsgPackEncoder.encode(v))
    }

    @Test func integersUseTheSmallestFormat() throws {
        #expect(try hex(.int(0)) == "00")
        #expect(try hex(.int(127)) == "7f")
        #expect(try hex(.int(128)) == "cc80")
        #expect(try hex(.int(256)) == "cd0100")
        #expect(try hex(.int(65536)) == "ce00010000")
        #expect(try hex(.number(.int(1 << 32))) == "cf0000000100000000")
        #expect(try hex(.number(.uint(UInt64.max))) == "cfffffffffffffffff")
        #expect(try hex(.int(-1)) == "ff")
        #expect(try hex(.int(-32)) == "e0")
        #expect(try hex(.int(-33)) == "d0df")
        #expect(try hex(.int(-129)) == "d1ff7f")
        #expect(try hex(.int(-32769)) == "d2ffff7fff")
        #expect(try hex(.number(.int(Int64.min))) == "d38000000000000000")
    }

    @Test func stringsBinariesFloatsAndContainers() throws {
        #expect(try hex(.string("")) == "a0")
        #expect(try hex(.string(String(repeating: "a", count: 31))).hasPrefix("bf"))
        #expect(try hex(.string(String(repeating: "a", count: 32))).hasPrefix("d920"))
        #expect(try hex(.string(String(repeating: "a", count: 256))).hasPrefix("da0100"))
        #expect(try hex(.string(String(repeating: "a", count: 65536))).hasPrefix("db00010000"))
        #expect(try hex(.bytes([1, 2])) == "c4020102")
        #expect(try hex(.bytes([UInt8](repeating: 0, count: 256))).hasPrefix("c50100"))
        #expect(try hex(.double(1.5)) == "cb3ff8000000000000")
        #expect(try hex(.null) == "c0")
        #expect(try hex(.bool(true)) == "c3" && (try hex(.bool(false))) == "c2")
        #expect(try hex(.array([])) == "90")
        #expect(try hex(.array(Array(repeating: .null, count: 16))).hasPrefix("dc0010"))
        #expect(try hex(.object(["a": .int(1)])) == "81a16101")
        let sixteen = MetadataObject((0..<16).map { ("k\($0)", MetadataValue.null) })
        #expect(try hex(.object(sixteen)).hasPrefix("de0010"))
    }

    @Test func decoderReadsEveryFormat() throws {
        func d(_ hex: String) throws -> MetadataValue { try MsgPackDecoder.decode(hexBytes(Substring(hex))) }
        #expect(try d("ca3fc00000") == .double(1.5))
        #expect(try d("d4017f") == .object(["__ext__": .int(1), "data": .bytes([0x7f])]))
        #expect(try d("c70302010203") == .object(["__ext__": .int(2), "data": .bytes([1, 2, 3])]))
        #expect(try d("cfffffffffffffffff") == .number(.uint(UInt64.max)))
        #expect(try d("d3ffffffffffffffff") == .int(-1))
        #expect(try d("dd0000000101") == .array([.int(1)]))
        #expect(try d("df00000001a16101") == .object(["a": .int(1)]))
        #expect(try d("db00000002c3a9") == .string("é"))
        #expect(try d("c600000001ff") == .bytes([0xff]))
    }

    @Test(arguments: [
        ("", "truncated"), ("cd01", "truncated"), ("a5616263", "truncated"), ("c1", "reserved"),
        ("a2c328", "not valid UTF-8"), ("dd7fffffff", "array of 2147483647 elements"), ("df7fffffff", "map of 2147483647 entries"),
        ("8101c0", "map key is not a string"), ("82a161c0a161c0", "duplicate map key"), ("c0c0", "trailing"),
        (String(repeating: "91", count: 70) + "c0", "nesting deeper"),
    ])
    func hostileInputIsRejectedWithAReason(hex: String, reason: String) {
        do {
            _ = try MsgPackDecoder.decode(hexBytes(Substring(hex)))
            Issue.record("accepted \(hex)")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    /// Random value trees: decode(encode(v)) == v.
    static func tree(_ seed: [Int]) -> MetadataValue {
        var it = seed.makeIterator()
        func build(_ depth: Int) -> MetadataValue {
            guard let n = it.next() else { return .null }
            switch abs(n) % (depth > 4 ? 7 : 9) {
            case 0: return .null
            case 1: return .bool(n % 2 == 0)
            case 2: return .number(.int(Int64(n) &* 1_000_003 &* (n % 3 == 0 ? 1_000_000_007 : 1)))
            case 3: return .number(.uint(UInt64(Int64.max) + UInt64(abs(n))))
            case 4: return .double(Double(n) / 7.0)
            case 5: return .string(String(repeating: "é☃x", count: abs(n) % 40))
            case 6: return .bytes((0..<(abs(n) % 300)).map { UInt8(truncatingIfNeeded: $0 &* n) })
            case 7: return .array((0..<(abs(n) % 5)).map { _ in build(depth + 1) })
            default: return .object(MetadataObject((0..<(abs(n) % 5)).map { ("k\($0)-\(n)", build(depth + 1)) }))
            }
        }
        return build(0)
    }

    @Test func encodeDecodeRoundTrips() async {
        await propertyCheck(count: 500, input: Gen.int(in: -100_000...100_000).array(of: 1...60)) { seed in
            let v = Self.tree(seed)
            #expect((try? MsgPackDecoder.decode(try MsgPackEncoder.encode(v))) == v)
        }
    }

    /// Seeded random mutations of real datagrams (the corpus in Tests/Fixtures/msgpack-corpus): the
    /// decoder answers a value or an error, never a crash, and never an over-allocation.
    @Test func mutatedDatagramsNeverCrashTheDecoder() throws {
        let corpusDir = Fixtures.path("msgpack-corpus")
        let corpus = try FileManager.default.contentsOfDirectory(atPath: corpusDir).sorted().compactMap {
            FileManager.default.contents(atPath: "\(corpusDir)/\($0)").map { Array($0) }
        }
        #expect(corpus.count >= 5)
        var rng = SplitMix(seed: 0x5eed)
        var decoded = 0, rejected = 0
        for _ in 0..<20_000 {
            var b = corpus[Int(rng.next() % UInt64(corpus.count))]
            for _ in 0..<(1 + rng.next() % 4) {
                guard !b.isEmpty else { break }
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 4 {
                case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b.removeSubrange(i..<min(b.count, i + Int(rng.next() % 8)))
                case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                default: b = Array(b.prefix(i))
                }
            }
            if (try? MsgPackDecoder.decode(b)) != nil { decoded += 1 } else { rejected += 1 }
        }
        #expect(decoded + rejected == 20_000 && rejected > 1000)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
