import Foundation
import NephometerCore
@testable import NephometerPublishers
import Testing
import TestSupport

/// Our AMQP frames and oslo envelope against the bytes real oslo.messaging (py-amqp, kombu) sent for
/// a ceilometer-polling sample.
@Suite struct NotifierWireTests {
    /// Client frames of the captured connection, by method name, in order.
    static func captured() throws -> [(method: String, channel: Int, payload: [UInt8])] {
        guard case .array(let frames) = try Fixtures.json("golden/openstack-bus/wire-polling-publish/conn1.c2s.json") else { return [] }
        return frames.compactMap { f in
            guard case .object(let o) = f, case .string(let hex)? = o["payload_hex"] else { return nil }
            var name = ""
            if case .string(let m)? = o["method"] { name = m } else if case .string(let t)? = o["type"] { name = t }
            var channel = 0
            if case .number(let n)? = o["channel"] { channel = Int(n.doubleValue) }
            return (name, channel, hexBytes(Substring(hex)))
        }
    }

    @Test func declaresPublishAndPropertiesEqualOslosFrames() throws {
        let frames = try Self.captured()
        func first(_ m: String) -> [UInt8]? { frames.first { $0.method == m }?.payload }
        #expect(first("connection.tune-ok") == AMQPClientMethod.tuneOK(channelMax: 2047, frameMax: 131_072, heartbeat: 60))
        #expect(first("connection.open") == AMQPClientMethod.open(vhost: "/"))
        #expect(first("channel.open") == AMQPClientMethod.channelOpen)
        #expect(first("exchange.declare") == AMQPClientMethod.exchangeDeclare("ceilometer", durable: false, autoDelete: false))
        #expect(first("queue.declare") == AMQPClientMethod.queueDeclare("notifications.sample", durable: false, autoDelete: false, arguments: []))
        #expect(first("queue.bind") == AMQPClientMethod.queueBind(queue: "notifications.sample", exchange: "ceilometer", routingKey: "notifications.sample"))
        #expect(first("confirm.select") == AMQPClientMethod.confirmSelect)
        #expect(first("basic.publish") == AMQPClientMethod.publish(exchange: "ceilometer", routingKey: "notifications.sample"))
        let body = try Data(contentsOf: Fixtures.url("golden/openstack-bus/wire-polling-publish/publish-body.bin"))
        #expect(first("header") == AMQPClientMethod.contentHeader(bodySize: body.count))
        let bodyFrame = frames.first { $0.method == "body" }?.payload
        #expect(bodyFrame == nil || bodyFrame == [UInt8](body))
    }

    @Test func quorumAndDurableDeclaresCarryOslosArguments() {
        let q = AMQPClientMethod.queueDeclare("notifications.sample", durable: true, autoDelete: false, arguments: [("x-queue-type", .string("quorum"))])
        // bits: passive 0, durable 1 → 0x02; then the table with one longstr entry.
        var r = AMQPReader(q)
        #expect((try? r.short()) == 50 && (try? r.short()) == 10)
        _ = try? r.short()
        #expect((try? r.shortstr()) == "notifications.sample")
        #expect((try? r.octet()) == 0x02)
        let table = (try? r.longstr()) ?? []
        #expect(table == [12] + Array("x-queue-type".utf8) + [UInt8(ascii: "S"), 0, 0, 0, 6] + Array("quorum".utf8))
    }

    @Test func theEnvelopeEqualsOslosBodyByteForByte() throws {
        let golden = [UInt8](try Data(contentsOf: Fixtures.url("golden/openstack-bus/wire-polling-publish/publish-body.bin")))
        // Take the ids, timestamp and payload from the captured message; everything else is ours.
        guard case .object(let outer) = try JSONParser.parse(golden), case .string(let innerText)? = outer["oslo.message"],
              case .object(let inner) = try JSONParser.parse(Array(innerText.utf8)),
              case .string(let messageID)? = inner["message_id"], case .string(let unique)? = inner["_unique_id"],
              case .string(let ts)? = inner["timestamp"], let payload = inner["payload"],
              case .object(let p) = payload, case .array(let samples)? = p["samples"], case .object(let meter)? = samples.first
        else { Issue.record("the golden body does not parse"); return }
        let ours = NotificationEnvelope.body(publisherID: "ceilometer.polling", eventType: "telemetry.polling", payload: payload,
                                             messageID: messageID, uniqueID: unique, timestamp: ts)
        #expect(ours == golden, "\(String(decoding: ours, as: UTF8.self))")
        // And the meter message itself is what we sign from a Sample with the same fields.
        var dict = MetadataObject()
        for (k, v) in meter where k.hasPrefix("counter_") || ["source", "user_id", "project_id", "resource_id", "timestamp", "resource_metadata", "message_id", "monotonic_time", "user_name", "project_name"].contains(k) {
            dict[k.replacingOccurrences(of: "counter_", with: "")] = v
        }
        dict["id"] = meter["message_id"]
        let s = try Sample(dict: dict)
        let signed = MeterMessage.signed(s, secret: "bench-secret")
        #expect(JSONWriter.string(.object(signed)) == JSONWriter.string(.object(meter)))
    }

    /// The envelope's escaping equals the reference path (the inner JSON written as a JSON string by
    /// `JSONWriter`) on random printable ASCII, quotes and backslashes included.
    @Test func theEnvelopesEscapingEqualsTheReferencePath() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]":, \abcXYZ019.-_/"#.utf8)
        for n in [0, 1, 2, 17, 300, 5000] {
            for _ in 0..<20 {
                let inner = (0..<n).map { _ in Bool.random(using: &rng) ? alphabet.randomElement(using: &rng) ?? 0x20 : UInt8.random(in: 0x20...0x7E, using: &rng) }
                var reference: [UInt8] = []
                JSONWriter.write(.string(String(decoding: inner, as: UTF8.self)), into: &reference)
                var escaped = [UInt8(ascii: "\"")]
                JSONStringEscape.append(inner, to: &escaped)
                escaped.append(UInt8(ascii: "\""))
                #expect(escaped == reference, "\(String(decoding: inner, as: UTF8.self))")
            }
        }
    }

    @Test func timestampsAreStrOfUtcnow() {
        #expect(NotificationEnvelope.utcnow(Date(timeIntervalSince1970: 1_795_618_323.5)) == "2026-11-25 14:52:03.500000")
        #expect(NotificationEnvelope.utcnow(Date(timeIntervalSince1970: 1_795_618_323)) == "2026-11-25 14:52:03")
        #expect(NotificationEnvelope.uniqueID().count == 32)
    }

    @Test(arguments: [
        ("rabbit://guest:guest@127.0.0.1:5672/", 1, "/", false),
        ("rabbit://a:b@h1:5672,c:d@h2:5673/nova", 2, "nova", false),
        ("rabbit+ssl://u:p@h/", 1, "/", true),
        ("rabbit://u:p%2Fq@h:1/%2F", 1, "/", false),
    ])
    func transportURLsAreReadAsOsloReadsThem(url: String, hosts: Int, vhost: String, ssl: Bool) throws {
        let t = try TransportURL(url)
        #expect(t.hosts.count == hosts)
        #expect(t.virtualHost == vhost)
        #expect(t.ssl == ssl)
        #expect(t.hosts.allSatisfy { !t.redacted.contains(":\($0.password)@") })
    }

    @Test func badTransportURLsSayWhy() {
        #expect(throws: PublisherURLError.self) { try TransportURL("kafka://h:9092") }
        #expect(throws: PublisherURLError.self) { try TransportURL("rabbit://u:p@h:99999/") }
        #expect(throws: PublisherURLError.self) { try TransportURL("rabbit:///") }
    }

    @Test(arguments: [
        ("notifier://?topic=metering&polcy=queue", "unknown notifier:// option 'polcy' (did you mean 'policy'?)"),
        ("notifier://?policy=dorp", "unknown notifier:// policy 'dorp' (did you mean 'drop'?)"),
        ("notifier://?driver=kafka", "driver 'kafka' is not supported"),
        ("notifier://?per_meter_topic=yes", "per_meter_topic=yes must be 0 or 1"),
        ("notifier://?max_queue_length=1e30", "max_queue_length=1e30 must be an integer"),
        ("notifier://u:p@h:99999/", "bad port"),
    ])
    func notifierURLErrorsSayWhat(url: String, message: String) {
        var context = PublisherContext(telemetrySecret: "s")
        context.messaging.transportURL = "rabbit://u:p@h:5672/"
        do {
            try PublisherFactory.check(try PublisherURL(url), context: context)
            Issue.record("accepted \(url)")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func notifierWithoutAHostNeedsTheAgentsTransport() throws {
        #expect(throws: PublisherURLError.self) { try PublisherFactory.check(try PublisherURL("notifier://?topic=metering"), context: PublisherContext(telemetrySecret: "s")) }
        try PublisherFactory.check(try PublisherURL("notifier://guest:guest@127.0.0.1:5672/?topic=a&topic=b&per_meter_topic=1"), context: PublisherContext(telemetrySecret: "s"))
    }
}

/// The Gnocchi publisher's resource definitions and attribute paths.
@Suite struct GnocchiResourcesTests {
    @Test func theBuiltInDefinitionsAreEtcsFile() throws {
        #expect(GnocchiDefaultResources.yaml == (try Fixtures.text("../../etc/gnocchi_resources.yaml")))
    }

    @Test func attributesComeFromTheFirstAlternativeThatHasAValue() throws {
        let r = try GnocchiResources(file: "no-such-file.yaml", archivePolicyOverride: nil)
        let instance = try #require(r.byMetric["cpu"])
        #expect(instance.name == "instance")
        #expect(instance.metrics["cpu"] == "ceilometer-low-rate" && instance.metrics["memory.usage"] == "ceilometer-low")
        #expect(r.byMetric["hardware.cpu.load.1min"]?.name == "host")
        #expect(r.byMetric["hardware.network.incoming.bytes"]?.name == "host_network_interface")
        let sample: MetadataValue = .object(["resource_metadata": .object([
            "host": .string("hashed"), "instance_host": .string("compute-1"), "flavor": .object(["id": .string("2"), "name": .string("m1.small")]),
            "display_name": .string("vm-1"),
        ])])
        func attr(_ name: String) -> MetadataValue? { instance.attributes.first { $0.0 == name }?.1.value(in: sample) }
        #expect(attr("host") == .string("compute-1"))
        #expect(attr("flavor_id") == .string("2"))
        #expect(attr("flavor_name") == .string("m1.small"))
        #expect(attr("display_name") == .string("vm-1"))
        #expect(attr("server_group") == nil)
        let overridden = try GnocchiResources(file: "no-such-file.yaml", archivePolicyOverride: "low")
        #expect(overridden.byMetric["cpu"]?.metrics["cpu"] == "low")
    }

    @Test func badPathsAreErrors() {
        #expect(throws: PublisherURLError.self) { try AttributePath("resource_metadata.(a|b") }
        #expect(throws: PublisherURLError.self) { try AttributePath("resource_metadata..x") }
    }
}

/// The bus's JSON meter messages: the fast path equals the reference path.
@Suite struct MeterMessageJSONTests {
    static func reference(_ samples: [Sample], secret: String) -> [UInt8] {
        JSONWriter.bytes(.array(samples.map { .object(MeterMessage.signed($0, secret: secret)) }))
    }

    @Test(arguments: ["bench-secret", ""]) func goldenAndGeneratedSamplesEncodeAsTheReference(secret: String) throws {
        var samples = try goldenSamples()
        var g = SystemRandomNumberGenerator()
        let shared: MetadataObject = ["display_name": .string("vm-é"), "flavor": .object(["id": .string("2"), "vcpus": .int(1)]), "nested": .array([.null, .bool(true), .double(0.5)])]
        for i in 0..<300 {
            let volume: Number = [.int(Int64.random(in: -5...Int64.max, using: &g)), .double(Double.random(in: -1e300...1e300, using: &g)), .uint(UInt64.max)][i % 3]
            samples.append(Sample(name: i % 7 == 0 ? "ünit.\"q\"" : "cpu", type: [.gauge, .cumulative, .delta][i % 3], unit: i % 2 == 0 ? "ns" : "",
                                  volume: volume, userID: i % 5 == 0 ? nil : "u\(i)", projectID: "p", resourceID: "r\(i % 4)",
                                  timestamp: i % 11 == 0 ? nil : "2026-12-02T06:00:0\(i % 10).123456",
                                  resourceMetadata: i % 2 == 0 ? shared : ["i": .int(i)], monotonicTime: i % 3 == 0 ? nil : Double(i) + 0.25))
        }
        let encoder = MeterMessageJSON(secret: secret)
        for chunk in stride(from: 0, to: samples.count, by: 50).map({ Array(samples[$0..<min($0 + 50, samples.count)]) }) {
            var fast: [UInt8] = []
            encoder.array(chunk, into: &fast)
            let reference = Self.reference(chunk, secret: secret)
            #expect(fast == reference)
            // Escaped for the envelope in the same pass: equal to escaping the reference afterwards,
            // and inside an envelope equal to the reference envelope.
            var escaped: [UInt8] = []
            encoder.array(chunk, into: &escaped, escaped: true)
            var expected: [UInt8] = []
            JSONStringEscape.append(reference, to: &expected)
            #expect(escaped == expected)
            let (id, unique, ts) = (UUID().uuidString.lowercased(), NotificationEnvelope.uniqueID(), NotificationEnvelope.utcnow())
            let envelope = NotificationEnvelope.escapedBody(publisherID: "ceilometer.polling", eventType: "telemetry.polling", messageID: id,
                                                            uniqueID: unique, timestamp: ts, payloadSize: escaped.count) { out in
                out.append(contentsOf: #"{\"samples\": "#.utf8)
                out.append(contentsOf: escaped)
                out.append(UInt8(ascii: "}"))
            }
            let payload = Array(#"{"samples": "#.utf8) + reference + [UInt8(ascii: "}")]
            #expect(envelope == NotificationEnvelope.body(publisherID: "ceilometer.polling", eventType: "telemetry.polling", payloadJSON: payload,
                                                          messageID: id, uniqueID: unique, timestamp: ts))
        }
    }
}
