import Foundation
import Logging
import NephometerConfig
import NephometerCore
import NephometerPipeline
import NephometerPublishers
import Synchronization
import Testing
import TestSupport

// A new publisher, written the way one is added to Nephometer: a `PublisherKind` that checks its URL
// and makes the publisher, and a `DeliveryTransport` that makes one attempt per batch. Ordering,
// retries with backoff, probes, the fsync'd spool, bounds and counters come from the shared
// `Delivery`; pipeline.yaml, `validate`, positioned errors, reload reuse and `/metrics` need nothing
// else. In the tree this is one folder (`Sources/NephometerPublishers/<Name>/`) plus its line in
// `PublisherRegistry.builtins`; here it is registered from outside with `PublisherRegistry.register`.

/// What the example's far end received, by publisher name.
let received = Mutex<[String: [String]]>([:])

/// `memory://NAME?fail_first=N`: delivers JSON batches into `received[NAME]`, failing the first N attempts.
struct MemoryPublisherKind: PublisherKind {
    let schemes = ["memory"]

    struct Options {
        var name: String
        var failFirst = 0
    }

    static func options(_ url: PublisherURL) throws(PublisherURLError) -> Options {
        guard !url.host.isEmpty else { throw PublisherURLError("memory:// needs a name: memory://NAME") }
        var o = Options(name: url.host)
        for (key, value) in url.query {
            switch key {
            case "fail_first":
                guard let n = Int(value), (0...100).contains(n) else { throw PublisherURLError("fail_first must be a whole number in 0…100, not '\(value)'") }
                o.failFirst = n
            default:
                throw PublisherURLError("unknown option '\(key)' of memory://; it takes fail_first")
            }
        }
        return o
    }

    func check(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError) { _ = try Self.options(url) }

    func make(_ url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> any Publisher {
        let o = try Self.options(url)
        var d = context.delivery
        d.spoolDirectory = "\(context.spoolDirectory)/memory-\(o.name)"
        return MemoryPublisher(displayURL: url.redacted,
                               delivery: Delivery(name: "memory publisher \(o.name)", transport: MemoryTransport(options: o), options: d, logger: logger))
    }
}

final class MemoryPublisher: Publisher {
    let displayURL: String
    let delivery: Delivery
    init(displayURL: String, delivery: Delivery) {
        self.displayURL = displayURL
        self.delivery = delivery
    }
    func publish(_ samples: [Sample]) async {
        await delivery.submit(DeliveryBatch(body: JSONWriter.bytes(.array(samples.map { .object($0.asDict) })), samples: samples.count))
    }
    func flush() async { await delivery.flush() }
    func close() async { await delivery.close(grace: 5) }
    func run() async { await delivery.run() }
    func deliveryStatistics() async -> DeliveryStatistics? { await delivery.statistics }
}

final class MemoryTransport: DeliveryTransport {
    let options: MemoryPublisherKind.Options
    private let attempts = Mutex(0)
    init(options: MemoryPublisherKind.Options) { self.options = options }

    func send(_ batch: DeliveryBatch) async -> DeliveryOutcome {
        let n = attempts.withLock { a in a += 1; return a }
        if n <= options.failFirst { return .failed("attempt \(n) fails on purpose") }
        received.withLock { $0[options.name, default: []].append(String(decoding: batch.body, as: UTF8.self)) }
        return .delivered
    }
    func probe() async -> Bool { true }
    func shutdown() async {}
}

@Suite(.serialized) struct AddingAPublisherTests {
    init() { PublisherRegistry.register(MemoryPublisherKind()) }

    func config(_ yaml: String) throws -> PipelineConfig {
        let d = Diagnostics()
        guard let c = PipelineConfig.validate(try ConfigNode.parse(yaml: yaml, file: "pipeline.yaml"), d) else { throw ConfigErrors(d.errors) }
        return c
    }

    @Test func aRegisteredKindIsUsedFromPipelineYAMLWithRetriesFromTheSharedDelivery() async throws {
        let dir = TemporaryDirectory("memory-publisher")
        let c = try config("""
            sources: [{name: s, meters: [cpu], sinks: [k]}]
            sinks: [{name: k, publishers: ["memory://example?fail_first=2"]}]
            """)
        var context = PublisherContext(telemetrySecret: "s", spoolDirectory: dir.path)
        context.delivery.spoolAfter = 0
        let pipeline = try PipelineBuilder.build(c, context: context, logger: Logger(label: "test")).get()
        #expect(pipeline.publishers.map(\.displayURL) == ["memory://example?fail_first=2"])
        await pipeline.publish([sample(volume: .int(1), at: t0), sample(volume: .int(2), at: t0 + 1)])
        // The delivery retries after its backoff (a probe that answers cuts it short).
        for _ in 0..<200 where (await pipeline.publishers[0].deliveryStatistics()?.deliveredSamples ?? 0) < 2 {
            try await Task.sleep(for: .milliseconds(50))
        }
        await pipeline.shutdown()
        // Two failed attempts, retried by the delivery layer, then delivered once, in order.
        let bodies = received.withLock { $0["example"] ?? [] }
        #expect(bodies.count == 1)
        guard case .array(let items)? = try bodies.first.map({ try JSONParser.parse($0) }) else {
            Issue.record("not a JSON list: \(bodies)")
            return
        }
        #expect(items.compactMap { $0["volume"] } == [.number(.int(1)), .number(.int(2))])
        let stats = try #require(await pipeline.publishers[0].deliveryStatistics())
        #expect(stats.failedAttempts == 2 && stats.deliveredSamples == 2)
    }

    @Test func itsURLErrorsArePositionedLikeEveryOtherPublishers() throws {
        let c = try config("""
            sources: [{name: s, meters: [cpu], sinks: [k]}]
            sinks:
              - name: k
                publishers: ["memory://example?fail_frist=1"]
            """)
        let d = Diagnostics()
        PipelineBuilder.check(c, d)
        #expect(d.errors.map(\.description) == [
            "pipeline.yaml:4:18: sinks[0].publishers[0]: unknown option 'fail_frist' of memory://; it takes fail_first",
        ])
    }
}
