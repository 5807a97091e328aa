import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import NephometerReceiver
import Testing
import TestSupport

@Suite struct ReceiverTests {
    let dir = TemporaryDirectory("receiver")

    func collector(secret: String = "bench-secret", window: Int = 1000) throws -> (SampleCollector, String) {
        let out = dir.file("out-\(UUID().uuidString.prefix(6)).jsonl")
        FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: out))
        return (SampleCollector(secret: secret, output: handle, window: window, logger: Logger(label: "test")), out)
    }

    func lines(_ path: String) -> [MetadataValue] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }

    @Test func ceilometersDatagramsVerifyWithItsSecret() async throws {
        let (c, out) = try collector()
        for d in try Fixtures.text("golden/udp-datagrams.hex").split(separator: "\n").map(hexBytes) {
            await c.datagram(d, from: "ceilometer")
        }
        await c.flush()
        #expect(await c.counts == .init(received: 3, accepted: 3, rejected: 0, duplicates: 0))
        #expect(lines(out).map { $0["name"]?.stringValue } == ["cpu", "network.incoming.bytes", "memory.usage"])
    }

    @Test func badMissingOrForgedSignaturesAreRejectedAndCounted() async throws {
        let (c, _) = try collector()
        let sample = try goldenSamples()[0]
        await c.datagram(try MeterMessageEncoder.datagram(sample, secret: "wrong-secret"), from: "x")
        await c.datagram(try MsgPackEncoder.encode(.object(MeterMessage.unsigned(sample))), from: "x")
        var forged = MeterMessage.signed(sample, secret: "bench-secret")
        forged["counter_volume"] = .int(0)
        await c.datagram(try MsgPackEncoder.encode(.object(forged)), from: "x")
        await c.datagram([0x81, 0xa1], from: "x")                     // truncated
        await c.datagram([0x93, 0x01, 0x02, 0x03], from: "x")          // wrong type
        await c.datagram([0xdf, 0xff, 0xff, 0xff, 0xff], from: "x")    // a huge map
        await c.datagram([0xa2, 0xc3, 0x28], from: "x")                // invalid UTF-8
        #expect(await c.counts == .init(received: 7, accepted: 0, rejected: 7, duplicates: 0))
    }

    @Test func duplicatesWithinTheWindowAreDropped() async throws {
        let (c, out) = try collector(window: 2)
        var samples = try goldenSamples().prefix(3).map { $0 }
        let d = try samples.map { try MeterMessageEncoder.datagram($0, secret: "bench-secret") }
        await c.datagram(d[0], from: "x")
        await c.datagram(d[0], from: "x")
        await c.datagram(d[1], from: "x")
        await c.datagram(d[2], from: "x")
        // Window of 2: the first id was forgotten, so it is accepted again.
        await c.datagram(d[0], from: "x")
        await c.flush()
        #expect(await c.counts == .init(received: 5, accepted: 4, rejected: 0, duplicates: 1))
        #expect(lines(out).count == 4)
        samples.removeAll()
    }

    @Test func httpBodiesSignedAsAWholeOrPerMessage() async throws {
        let (c, out) = try collector()
        let samples = try goldenSamples()
        let body = HTTPBody.json(samples)
        let good = HTTPSignature.header(body, secret: "bench-secret")
        #expect(await c.httpBody(body, signature: good, from: "x") == .ok(accepted: 4))
        #expect(await c.httpBody(body, signature: good, from: "x") == .ok(accepted: 0))
        #expect(await c.counts.duplicates == 4)
        #expect(await c.httpBody(body, signature: "00" + good.dropFirst(2), from: "x") == .forbidden("bad X-Nephometer-Signature"))
        #expect(await c.httpBody(HTTPBody.json([samples[0]]), signature: nil, from: "x") == .ok(accepted: 0))
        #expect(await c.httpBody(Array("not json".utf8), signature: nil, from: "x") == .badRequest("body is not JSON: invalid JSON at byte 0: unexpected character"))
        // Meter messages carrying their own signatures need no header.
        var fresh = samples[1]
        fresh.id = MessageID.make()
        let message = MeterMessage.signed(fresh, secret: "bench-secret")
        #expect(await c.httpBody(JSONWriter.bytes(.array([.object(message)])), signature: nil, from: "x") == .ok(accepted: 1))
        await c.flush()
        #expect(lines(out).count == 5)
    }

    @Test func withoutASecretUnsignedSamplesAreAccepted() async throws {
        let (c, _) = try collector(secret: "")
        #expect(await c.httpBody(HTTPBody.json(try goldenSamples()), signature: nil, from: "x") == .ok(accepted: 4))
        await c.datagram(try MsgPackEncoder.encode(.object(MeterMessage.unsigned(try goldenSamples()[0]))), from: "x")
        #expect(await c.counts.duplicates == 1)
    }
}
