import Logging
import NephometerCore
import NephometerPublishers

/// A sink: transformers applied in order, then publishers. Owns its transformers' state.
public actor Sink {
    public let name: String
    /// Identity of the sink's definition (transformers and publishers, not positions): a reloaded
    /// pipeline keeps a sink, and its transformer state, when this is unchanged.
    public nonisolated let definitionKey: String
    private let chain: TransformerChain
    private let publishers: [any Publisher]
    private let idleIntervals: Double
    private let defaultInterval: Double
    private var lastPrune: Double = 0
    private let logger: Logger

    init(name: String, definitionKey: String, transformers: [TransformerFactory.Definition], publishers: [any Publisher],
         idleIntervals: Double, defaultInterval: Double, logger: Logger) {
        self.name = name
        self.definitionKey = definitionKey
        chain = TransformerChain(transformers.map { $0.instantiate() })
        self.publishers = publishers
        self.idleIntervals = idleIntervals
        self.defaultInterval = defaultInterval
        self.logger = logger
    }

    /// Runs a batch through the transformers, publishes the result, then flushes the transformers
    /// (Ceilometer flushes after every batch): what a transformer releases goes through the later ones.
    public func process(_ samples: consuming [Sample]) async {
        let now = Time.monotonic()
        let out = chain.process(samples, now: now)
        if now - lastPrune >= 1 {
            lastPrune = now
            let dropped = chain.prune(now: now, idleIntervals: idleIntervals, defaultInterval: defaultInterval)
            if dropped > 0 { logger.debug("sink \(name): forgot state of \(dropped) idle series") }
        }
        await publish(out)
    }

    /// Transforms without publishing (used by `poll` previews and benchmarks).
    public func transformOnly(_ samples: consuming [Sample]) -> [Sample] {
        chain.process(samples, now: Time.monotonic())
    }

    private func publish(_ samples: [Sample]) async {
        guard !samples.isEmpty else { return }
        for p in publishers { await p.publish(samples) }
    }

    /// Releases everything transformers hold and flushes publishers (at shutdown).
    public func drain() async {
        let now = Time.monotonic()
        await publish(chain.flush(now: now, final: true))
        for p in publishers { await p.flush() }
    }
}
