import Logging
import NephometerCore
import NephometerPublishers

/// A sink: transformers applied in order, then publishers. Owns its transformers' state.
public actor Sink {
    public let name: String
    /// Identity of the sink's definition (transformers and publishers, not positions): a reloaded
    /// pipeline keeps a sink, and its transformer state, when this is unchanged.
    public nonisolated let definitionKey: String
    private let transformers: [any Transformer]
    private let publishers: [any Publisher]
    private let idleIntervals: Double
    private let defaultInterval: Double
    private var lastPrune: Double = 0
    private let logger: Logger

    init(name: String, definitionKey: String, transformers: [TransformerFactory.Definition], publishers: [any Publisher],
         idleIntervals: Double, defaultInterval: Double, logger: Logger) {
        self.name = name
        self.definitionKey = definitionKey
        self.transformers = transformers.map { $0.instantiate() }
        self.publishers = publishers
        self.idleIntervals = idleIntervals
        self.defaultInterval = defaultInterval
        self.logger = logger
    }

    /// Runs a batch through the transformers, publishes the result, then flushes the transformers
    /// (Ceilometer flushes after every batch): what a transformer releases goes through the later ones.
    public func process(_ samples: [Sample]) async {
        let now = Time.monotonic()
        var out = transform(samples, from: 0, now: now)
        out += flushTransformers(now: now, final: false)
        if now - lastPrune >= 1 {
            lastPrune = now
            var dropped = 0
            for t in transformers { dropped += t.prune(now: now, idleIntervals: idleIntervals, defaultInterval: defaultInterval) }
            if dropped > 0 { logger.debug("sink \(name): forgot state of \(dropped) idle series") }
        }
        await publish(out)
    }

    /// Transforms without publishing (used by `poll` previews and benchmarks).
    public func transformOnly(_ samples: [Sample]) -> [Sample] {
        let now = Time.monotonic()
        return transform(samples, from: 0, now: now) + flushTransformers(now: now, final: false)
    }

    private func transform(_ samples: [Sample], from start: Int, now: Double) -> [Sample] {
        guard start < transformers.count else { return samples }
        var out: [Sample] = []
        out.reserveCapacity(samples.count)
        for s in samples {
            var current: Sample? = s
            for i in start..<transformers.count {
                guard let c = current.take() else { break }
                current = transformers[i].handle(c, now: now)
            }
            if let c = current.take() { out.append(c) }
        }
        return out
    }

    private func flushTransformers(now: Double, final: Bool) -> [Sample] {
        var out: [Sample] = []
        for (i, t) in transformers.enumerated() {
            let released = t.flush(now: now, final: final)
            if !released.isEmpty { out += transform(released, from: i + 1, now: now) }
        }
        return out
    }

    private func publish(_ samples: [Sample]) async {
        guard !samples.isEmpty else { return }
        for p in publishers { await p.publish(samples) }
    }

    /// Releases everything transformers hold and flushes publishers (at shutdown).
    public func drain() async {
        let now = Time.monotonic()
        await publish(flushTransformers(now: now, final: true))
        for p in publishers { await p.flush() }
    }
}
