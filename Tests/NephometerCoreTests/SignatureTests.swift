import Foundation
import NephometerCore
import Testing
import TestSupport

/// The meter message and its signature against real Ceilometer's output (golden/meter_messages.json,
/// golden/signatures.json), byte for byte.
@Suite struct SignatureTests {
    @Test func everyGoldenMeterMessageMatchesCeilometer() throws {
        guard case .array(let cases) = try Fixtures.json("golden/meter_messages.json") else { Issue.record("not a list"); return }
        #expect(cases.count == 4)
        for c in cases {
            guard let secret = c["secret"]?.stringValue, case .object(let expected)? = c["message"],
                  let input = c["hmac_input_utf8"]?.stringValue, case .object(let emptySecret)? = c["message_with_empty_secret"]
            else { Issue.record("malformed case"); continue }
            let sample = try Sample(dict: expected)
            let signed = MeterMessage.signed(sample, secret: secret)
            // Same keys, same order, same values, same bytes when rendered.
            #expect(signed.keys == expected.keys)
            #expect(JSONWriter.string(signed) == JSONWriter.string(expected))
            #expect(String(decoding: Signature.hmacInput(signed), as: UTF8.self) == input)
            #expect(signed["message_signature"] == expected["message_signature"])
            #expect(Signature.verify(expected, secret: secret))
            #expect(c["verify_signature"] == .bool(true))
            let unsigned = MeterMessage.signed(sample, secret: "")
            #expect(unsigned["message_signature"] == .string(""))
            #expect(JSONWriter.string(unsigned) == JSONWriter.string(emptySecret))
        }
    }

    @Test func everyGoldenSignatureCaseMatches() throws {
        let doc = try Fixtures.json("golden/signatures.json")
        guard let secret = doc["secret"]?.stringValue, case .array(let cases)? = doc["cases"] else { Issue.record("malformed"); return }
        #expect(cases.count >= 9)
        for c in cases {
            guard case .object(let message)? = c["message"], let input = c["hmac_input_utf8"]?.stringValue,
                  let signature = c["signature"]?.stringValue else { Issue.record("malformed case"); continue }
            #expect(String(decoding: Signature.hmacInput(message), as: UTF8.self) == input, "HMAC input for \(JSONWriter.string(message))")
            #expect(Signature.compute(message, secret: secret) == signature)
        }
    }

    @Test func tamperedOrMissingSignatureFailsVerification() throws {
        guard case .array(let cases) = try Fixtures.json("golden/meter_messages.json"),
              case .object(var message)? = cases[0]["message"] else { Issue.record("malformed"); return }
        #expect(Signature.verify(message, secret: "bench-secret"))
        #expect(!Signature.verify(message, secret: "other-secret"))
        message["counter_volume"] = .number(.int(1))
        #expect(!Signature.verify(message, secret: "bench-secret"))
        message["message_signature"] = nil
        #expect(!Signature.verify(message, secret: "bench-secret"))
        message["message_signature"] = .string("é")
        #expect(!Signature.verify(message, secret: "bench-secret"))
        // Without a secret every message verifies, as in Ceilometer.
        #expect(Signature.verify(message, secret: ""))
    }

    @Test func nestedKeysAndListsRenderAsPython() {
        let m: MetadataObject = [
            "b": .array([.string("it's"), .string("a\"b"), .string("é"), .bytes([0, 255])]),
            "a": .object(["z": .double(1e16), "y": .double(1e-5), "x": .double(1e15)]),
        ]
        let input = String(decoding: Signature.hmacInput(m), as: UTF8.self)
        #expect(input == "a:x1000000000000000.0a:y1e-05a:z1e+16b[b\"it's\", b'a\"b', b'\\xc3\\xa9', b'\\x00\\xff']")
    }
}
