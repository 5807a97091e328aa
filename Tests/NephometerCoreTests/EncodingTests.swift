import Foundation
import NephometerCore
import Testing
import TestSupport

@Suite struct EncodingTests {
    /// `as_dict()` rendered as Python's json.dumps, against Ceilometer's file publisher and HTTP body.
    @Test func sampleDictJSONMatchesCeilometerFilePublisher() throws {
        guard case .array(let inputs) = try Fixtures.json("golden/samples-input.json") else { Issue.record("malformed"); return }
        let samples = try inputs.map { v -> Sample in
            guard case .object(let o) = v else { throw SampleDecodingError(field: "", reason: "not an object") }
            return try Sample(dict: o)
        }
        let expectedLines = try Fixtures.text("golden/file-publisher-json.log").split(separator: "\n").map(String.init)
        #expect(samples.map { JSONWriter.string($0.asDict) } == expectedLines)
        let body = try Fixtures.text("golden/http-body-batch-0.json")
        #expect(JSONWriter.string(MetadataValue.array(samples.map { MetadataValue.object($0.asDict) })) == body)
    }

    @Test(arguments: [
        (1.0, "1.0"), (0.1, "0.1"), (1e-05, "1e-05"), (1e16, "1e+16"), (1e15, "1000000000000000.0"),
        (123456789.123, "123456789.123"), (-0.1, "-0.1"), (0.0001, "0.0001"), (2.5, "2.5"),
        (12345.678, "12345.678"), (1.5e300, "1.5e+300"), (Double.leastNonzeroMagnitude, "5e-324"), (-0.0, "-0.0"), (100.0, "100.0"),
        (1237.121139219, "1237.121139219"), (1e22, "1e+22"), (0.5, "0.5"),
    ])
    func floatsRenderAsPythonRepr(value: Double, expected: String) {
        #expect(PythonFloat.repr(value) == expected)
    }

    @Test func jsonRoundTripKeepsOrderAndNumberKinds() throws {
        let text = #"{"z": 1, "a": 1.0, "big": 100000000000000000000, "u": 18446744073709551615, "n": -5, "s": "\u00e9\ud83d\ude00\n", "l": [true, false, null, {}], "e": 1e-05}"#
        let v = try JSONParser.parse(text)
        #expect(v.objectValue?.keys == ["z", "a", "big", "u", "n", "s", "l", "e"])
        #expect(v["z"] == .number(.int(1)))
        #expect(v["a"] == .number(.double(1.0)))
        #expect(v["big"] == .number(.big("100000000000000000000")))
        #expect(v["u"] == .number(.uint(UInt64.max)))
        #expect(v["s"] == .string("é😀\n"))
        #expect(JSONWriter.string(v) == text)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "\"abc", "01x", "{\"a\":1}}", "nul", "\"\\x\"", String(repeating: "[", count: 200)])
    func malformedJSONIsRejectedWithAPosition(text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test func sha224MatchesNovaHostID() {
        #expect(SHA224.hexDigest("") == "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f")
        #expect(SHA224.hexDigest("abc") == "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7")
        // golden: resource_metadata.host for project 6f70… on host bench-host.
        #expect(SHA224.hexDigest("6f70656e-7374-6163-6b20-70726f6a6563bench-host")
                == "ad9e70faba14fec3065b1927f6d84df015931bf9ace8c91021d64169")
    }

    @Test func timestampsLookLikeCeilometers() {
        #expect(Time.isoTimestamp(Date(timeIntervalSince1970: 1_700_000_000)) == "2023-11-14T22:13:20")
        #expect(Time.isoTimestamp(Date(timeIntervalSince1970: 1_700_000_000.25)) == "2023-11-14T22:13:20.250000")
        #expect(Time.parseISO("2023-11-14T22:13:20") == 1_700_000_000)
        #expect(Time.parseISO("2023-11-14T22:13:20.5Z") == 1_700_000_000.5)
        #expect(Time.parseISO("2023-11-14T23:13:20+01:00") == 1_700_000_000)
        #expect(Time.parseISO("yesterday") == nil)
    }

    @Test func messageIDsAreUUIDsAndDerivedOnesAreStable() {
        let a = MessageID.make(), b = MessageID.make()
        #expect(a != b)
        #expect(a.count == 36 && UUID(uuidString: a) != nil)
        #expect(Array(a)[14] == "4")
        let d1 = MessageID.derived(from: a, tag: "rate_of_change"), d2 = MessageID.derived(from: a, tag: "rate_of_change")
        #expect(d1 == d2 && UUID(uuidString: d1) != nil && Array(d1)[14] == "8")
        #expect(MessageID.derived(from: a, tag: "delta") != d1)
    }

    @Test func sampleDecodingNamesTheBadField() {
        var o = Sample(name: "cpu", type: .cumulative, unit: "ns", volume: .int(1), resourceID: "r").asDict
        o["type"] = .string("counter")
        #expect(throws: SampleDecodingError.self) { try Sample(dict: o) }
        do { _ = try Sample(dict: o) } catch { #expect(error.field == "type") }
    }
}
