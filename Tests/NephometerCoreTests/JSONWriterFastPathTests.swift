@testable import NephometerCore
import Testing

/// The ASCII fast path of `JSONWriter.writeString` equals the UTF-16 reference path.
@Suite struct JSONWriterFastPathTests {
    static func reference(_ s: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for unit in s.utf16 { JSONWriter.appendEscaped(unit, into: &out) }
        out.append(UInt8(ascii: "\""))
        return out
    }

    @Test func everyASCIIByteAndMixedStringsMatchTheReference() {
        var g = SystemRandomNumberGenerator()
        var cases: [String] = (0..<128).map { String(UnicodeScalar(UInt8($0))) }
        cases += ["", "plain", "quote\"back\\slash", "tab\tnl\ncr\r", "\u{7f}del", "é", "a€b", "😀", "mixed ascii é and \"quotes\""]
        for _ in 0..<2_000 {
            let n = Int.random(in: 0..<40, using: &g)
            cases.append(String((0..<n).map { _ in Character(UnicodeScalar(UInt8.random(in: 0..<128, using: &g))) }))
        }
        for s in cases {
            var out: [UInt8] = []
            JSONWriter.writeString(s, into: &out)
            #expect(out == Self.reference(s), "\(Array(s.utf8))")
        }
    }
}
