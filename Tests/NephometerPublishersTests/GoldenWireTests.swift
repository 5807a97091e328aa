import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import Testing
import TestSupport

func goldenSamples() throws -> [Sample] {
    guard case .array(let items) = try Fixtures.json("golden/samples-input.json") else { throw SampleDecodingError(field: "", reason: "not a list") }
    return try items.map { v -> Sample in
        guard case .object(let o) = v else { throw SampleDecodingError(field: "", reason: "not an object") }
        return try Sample(dict: o)
    }
}

func hexBytes(_ s: Substring) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.utf8.makeIterator()
    while let a = it.next(), let b = it.next() {
        out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16) ?? 0)
    }
    return out
}

/// Bytes on the wire against real Ceilometer 27's publishers.
@Suite struct GoldenWireTests {
    @Test func udpDatagramsEqualCeilometersBytes() throws {
        let samples = try goldenSamples()
        let expected = try Fixtures.text("golden/udp-datagrams.hex").split(separator: "\n").map(hexBytes)
        #expect(expected.count == 3)
        for (i, s) in samples.prefix(3).enumerated() {
            let ours = try MeterMessageEncoder.datagram(s, secret: "bench-secret")
            #expect(ours == expected[i], "datagram \(i): \(ours.count) vs \(expected[i].count) bytes")
        }
    }

    @Test func aVolumeOrValueBeyondUInt64CannotBeEncoded() throws {
        let edge = try goldenSamples()[3]  // metadata big = 10**20, which Ceilometer's msgpack refuses too
        #expect(throws: MsgPackEncoder.Unencodable.self) { try MeterMessageEncoder.datagram(edge, secret: "bench-secret") }
        var big = edge
        big.resourceMetadata = [:]
        big.volume = .big("18446744073709551616")
        #expect(throws: MsgPackEncoder.Unencodable.self) { try MeterMessageEncoder.datagram(big, secret: "s") }
        big.volume = .uint(UInt64.max)
        #expect(try MeterMessageEncoder.datagram(big, secret: "s").count > 0)
    }

    @Test func httpBodyEqualsCeilometersBody() throws {
        let body = HTTPBody.json(try goldenSamples())
        #expect(String(decoding: body, as: UTF8.self) == (try Fixtures.text("golden/http-body-batch-0.json")))
    }

    /// Bodies wait in memory counted by their bytes: one that outgrew the size estimate (samples much
    /// bigger than the last body's) is still held in a buffer of about its size, with the same bytes.
    @Test func aBodyBiggerThanTheEstimateIsHeldInABufferOfItsSize() throws {
        let small = try goldenSamples().map { s -> Sample in var s = s; s.resourceMetadata = [:]; return s }
        _ = HTTPBody.json(small)  // the estimate: these small samples
        let big = try goldenSamples().map { s -> Sample in
            var s = s
            s.resourceMetadata = MetadataObject((0..<200).map { ("key-\($0)", .string(String(repeating: "v", count: 40))) })
            return s
        }
        let body = HTTPBody.json(big)
        #expect(body.capacity <= body.count + body.count / 8, "\(body.count) bytes in a buffer of \(body.capacity)")
        var expected: [UInt8] = Array("[".utf8)
        for (i, s) in big.enumerated() {
            if i > 0 { expected += Array(", ".utf8) }
            s.writeJSON(into: &expected)
        }
        expected += Array("]".utf8)
        #expect(body == expected)
    }

    @Test func decodedGoldenDatagramsMatchCeilometersDecoding() throws {
        guard case .array(let decoded)? = try Fixtures.json("golden/udp-decoded.json")["decoded"] else { Issue.record("fixture"); return }
        let datagrams = try Fixtures.text("golden/udp-datagrams.hex").split(separator: "\n").map(hexBytes)
        for (d, expected) in zip(datagrams, decoded) {
            let ours = try MsgPackDecoder.decode(d)
            #expect(JSONWriter.string(ours) == JSONWriter.string(expected))
        }
    }
}

@Suite struct FastEncoderTests {
    /// The publisher's direct encoder and the reference path (build the meter message, sign, encode)
    /// produce the same bytes, including when metadata trees are shared or changed between samples.
    @Test func fastPathEqualsReferencePath() throws {
        let encoder = MeterMessageEncoder(secret: "bench-secret")
        var samples = try goldenSamples().prefix(3).map { $0 }
        var s = samples[0]
        s.userName = "admin"; s.projectName = nil; s.monotonicTime = nil; s.timestamp = nil
        s.volume = .double(1e-7)
        samples.append(s)
        var t = samples[1]
        t.resourceMetadata["extra"] = .array([.string("it's"), .int(1), .null])
        samples.append(t)
        var u = t
        u.resourceMetadata = [:]
        samples.append(u)
        for sample in samples + samples {
            #expect(try encoder.encode(sample) == (try MeterMessageEncoder.datagram(sample, secret: "bench-secret")))
        }
        let unsigned = MeterMessageEncoder(secret: "")
        #expect(try unsigned.encode(samples[0]) == (try MeterMessageEncoder.datagram(samples[0], secret: "")))
    }
}
