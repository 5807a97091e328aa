import Foundation
import Crypto
import Logging
import NIOSSL
import NephometerCore
import Synchronization

/// Publishes samples as oslo.messaging notifications on RabbitMQ, in two roles:
/// - `.polling`: the agent's notification bus, exactly as `ceilometer-polling` sends every polled
///   sample: publisher_id `ceilometer.polling`, event_type `telemetry.polling`, payload
///   `{"samples": [signed meter messages]}` of up to `batch_size`, one publish per topic to
///   `<topic>.sample` on the control exchange.
/// - `.pipeline`: Ceilometer's `notifier://` pipeline publisher: publisher_id
///   `telemetry.publisher.<host>`, event_type `metering` (and `metering.<meter>` per meter with
///   `per_meter_topic=1`), the payload a list of signed meter messages, topics from `topic=`.
///
/// Order, spool, retries and bounds are the shared `Delivery`'s; a batch counts as delivered only
/// after the broker's `basic.ack` (publisher confirms).
public final class NotifierPublisher: Publisher {
    public enum Role: Sendable, Hashable {
        case polling
        case pipeline(perMeterTopic: Bool, dropOnFailure: Bool)
    }

    public let displayURL: String
    public let delivery: Delivery
    let role: Role
    let topics: [String]
    let publisherID: String
    let batchSize: Int
    let logger: Logger
    private let once = LogOnce()
    /// Signed meter messages as JSON, the fast path (equal to `MeterMessage.signed` + `JSONWriter`).
    private let encoder: Mutex<MeterMessageJSON>

    init(role: Role, url: TransportURL, topics: [String], settings: MessagingSettings, displayURL: String,
         context: PublisherContext, spoolName: String, logger: Logger) throws(PublisherURLError) {
        self.role = role
        self.topics = topics
        self.displayURL = displayURL
        self.logger = logger
        encoder = Mutex(MeterMessageJSON(secret: context.telemetrySecret))
        batchSize = max(1, settings.batchSize)
        switch role {
        case .polling: publisherID = "ceilometer.polling"
        case .pipeline: publisherID = "telemetry.publisher.\(context.host)"
        }
        let tls = try Self.tls(settings, ssl: url.ssl)
        var drop = false
        if case .pipeline(_, let d) = role { drop = d }
        let transport = NotifierTransport(session: AMQPSession(url: url, settings: settings, tls: tls, logger: logger), dropOnFailure: drop)
        var d = context.delivery
        d.spoolDirectory = drop ? nil : "\(context.spoolDirectory)/\(spoolName)"
        delivery = Delivery(name: role == .polling ? "notification bus \(url.redacted)" : "notifier publisher \(displayURL)",
                            transport: transport, options: d, logger: logger)
    }

    /// The agent's notification bus, or nil when the settings have no transport or notifications are off.
    public static func bus(_ settings: MessagingSettings, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> NotifierPublisher? {
        guard settings.enableNotifications, let raw = settings.transportURL else { return nil }
        let url = try TransportURL(raw, ssl: settings.ssl)
        var l = logger
        l[metadataKey: "publisher"] = "notification-bus"
        return try NotifierPublisher(role: .polling, url: url, topics: settings.topics, settings: settings, displayURL: url.redacted,
                                     context: context, spoolName: "notification-bus", logger: l)
    }

    static func tls(_ s: MessagingSettings, ssl: Bool) throws(PublisherURLError) -> TLSConfiguration? {
        guard ssl || s.ssl else { return nil }
        return try ClientTLS.configuration(caFile: s.sslCAFile, certFile: s.sslCertFile, keyFile: s.sslKeyFile, names: "ssl_cert_file/ssl_key_file")
    }

    public func run() async { await delivery.run() }
    public func deliveryStatistics() async -> DeliveryStatistics? { await delivery.statistics }
    public func flush() async { await delivery.flush() }
    public func close() async { await delivery.close(grace: 5) }

    public func publish(_ samples: [Sample]) async {
        var good: [Sample] = []
        good.reserveCapacity(samples.count)
        var bad = 0
        for s in samples {
            if let why = NotificationEnvelope.problem(s) {
                bad += 1
                once.log(logger, .error, key: why, "\(displayURL): \(why); it is not sent (Ceilometer's consumer would requeue it forever)")
            } else {
                good.append(s)
            }
        }
        if bad > 0 { await delivery.noteRefused(samples: bad) }
        var start = 0
        while start < good.count {
            let chunk = good[start..<min(good.count, start + batchSize)]
            start += batchSize
            switch role {
            case .polling:
                await send(eventType: "telemetry.polling", chunk, wrapped: true)
            case .pipeline(let perMeter, _):
                await send(eventType: "metering", chunk, wrapped: false)
                if perMeter {
                    var byName: [String: [Sample]] = [:]
                    for s in chunk { byName[s.name, default: []].append(s) }
                    for name in byName.keys.sorted() { await send(eventType: "metering.\(name)", byName[name] ?? [], wrapped: false) }
                }
            }
        }
    }

    private func send(eventType: String, _ samples: some Collection<Sample>, wrapped: Bool) async {
        let batch = Array(samples)
        // The payload written once, already escaped as the inside of the envelope's `oslo.message`.
        let list = encoder.withLock { e -> [UInt8] in
            var out: [UInt8] = []
            out.reserveCapacity(batch.count * 1_300)
            e.array(batch, into: &out, escaped: true)
            return out
        }
        for topic in topics {
            let body = NotificationEnvelope.escapedBody(publisherID: publisherID, eventType: eventType, payloadSize: list.count + 16) { out in
                if wrapped { out.append(contentsOf: #"{\"samples\": "#.utf8) }
                out.append(contentsOf: list)
                if wrapped { out.append(UInt8(ascii: "}")) }
            }
            await delivery.submit(DeliveryBatch(body: body, tag: "\(topic).sample", samples: samples.count))
        }
    }
}

/// Publishes with confirms, a window of messages at a time; the routing key travels in the batch's tag
/// (kept in the spool).
struct NotifierTransport: DeliveryTransport {
    let session: AMQPSession
    let dropOnFailure: Bool

    func send(_ batch: DeliveryBatch) async -> DeliveryOutcome {
        await send(group: [batch]).first ?? .failed("not sent")
    }

    /// Messages awaiting their publisher confirms at once: one hop to the event loop, one socket flush
    /// and one wait for a group (oslo's driver confirms one message at a time).
    static let confirmWindow = 32
    var window: Int { Self.confirmWindow }

    func send(group: [DeliveryBatch]) async -> [DeliveryOutcome] {
        var results = await session.publish(group: group.map { ($0.tag, $0.body) })
        // policy=drop: what was not attempted is dropped with the failure's reason too.
        if dropOnFailure, results.count < group.count, let last = results.last {
            results += Array(repeating: last, count: group.count - results.count)
        }
        return results.map { r in
            switch r {
            case .success: return .delivered
            case .failure(let e): return dropOnFailure ? .refused("policy=drop: \(e)") : .failed(e.description)
            }
        }
    }

    func probe() async -> Bool { await session.probe() }
    func shutdown() async { await session.shutdown() }
}

/// `notifier://[user:pass@host:port[/vhost]]?topic=T&policy=default|queue|drop&max_queue_length=N&per_meter_topic=0|1&max_retry=N&driver=rabbit`
struct NotifierPublisherKind: PublisherKind {
    let schemes = ["notifier"]

    struct Options {
        var topics: [String]
        var transport: TransportURL
        var perMeterTopic: Bool
        var drop: Bool
    }

    static let keys = ["topic", "policy", "max_queue_length", "per_meter_topic", "max_retry", "driver"]

    func options(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError) -> Options {
        for (k, _) in url.query where !Self.keys.contains(k) {
            throw PublisherURLError("unknown notifier:// option '\(k)'\(Suggestion.hint(for: k, in: Self.keys)); options: \(Self.keys.joined(separator: ", "))")
        }
        let driver = url.queryValue("driver") ?? "rabbit"
        guard driver == "rabbit" || driver == "messagingv2" else {
            throw PublisherURLError("notifier:// driver '\(driver)' is not supported; Nephometer publishes to RabbitMQ (driver=rabbit)")
        }
        let topics = url.query.filter { $0.0 == "topic" }.map(\.1)
        let list = topics.isEmpty ? ["metering"] : topics
        for t in list where t.isEmpty || t.utf8.count > 240 {
            throw PublisherURLError("notifier:// topic '\(t.prefix(40))' must be 1 to 240 bytes")
        }
        let policy = url.queryValue("policy") ?? "default"
        guard ["default", "queue", "drop"].contains(policy) else {
            throw PublisherURLError("unknown notifier:// policy '\(policy)'\(Suggestion.hint(for: policy, in: ["default", "queue", "drop"])); expected default, queue or drop")
        }
        for key in ["max_queue_length", "max_retry"] {
            if let v = url.queryValue(key), Int(v).map({ (0...10_000_000).contains($0) }) != true {
                throw PublisherURLError("notifier:// \(key)=\(v.prefix(40)) must be an integer from 0 to 10000000")
            }
        }
        var perMeter = false
        if let v = url.queryValue("per_meter_topic") {
            guard let n = Int(v) else { throw PublisherURLError("notifier:// per_meter_topic=\(v.prefix(40)) must be 0 or 1") }
            perMeter = n != 0
        }
        let transport: TransportURL
        if !url.host.isEmpty {
            // The broker in the URL: its netloc and path as a rabbit:// transport URL (the query is ours).
            let rest = url.raw[url.raw.index(url.raw.startIndex, offsetBy: "notifier://".count)...]
            transport = try TransportURL("rabbit://\(rest.prefix { $0 != "?" && $0 != "#" })", ssl: context.messaging.ssl)
        } else if let raw = context.messaging.transportURL {
            transport = try TransportURL(raw, ssl: context.messaging.ssl)
        } else {
            throw PublisherURLError("notifier:// without a host needs the agent's transport URL (messaging.transport_url, --transport-url or [DEFAULT] transport_url in ceilometer.conf)")
        }
        return Options(topics: list, transport: transport, perMeterTopic: perMeter, drop: policy == "drop")
    }

    func check(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError) {
        let o = try options(url, context: context)
        _ = try NotifierPublisher.tls(context.messaging, ssl: o.transport.ssl)
    }

    func make(_ url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> any Publisher {
        let o = try options(url, context: context)
        let name = "notifier-" + Hex.string(SHA256.hash(data: Array(url.redacted.utf8)).prefix(8))
        return try NotifierPublisher(role: .pipeline(perMeterTopic: o.perMeterTopic, dropOnFailure: o.drop), url: o.transport, topics: o.topics,
                                     settings: context.messaging, displayURL: url.redacted, context: context, spoolName: name, logger: logger)
    }
}
