import Logging
import NephometerConfig
import NephometerCore
import NephometerPublishers
import Synchronization

/// Routes samples from pipeline sources to sinks: each sample goes to every sink of every source whose
/// `meters` match its name.
public final class Pipeline: Sendable {
    struct Route: Sendable {
        let source: String
        let meters: MeterSelector
        let sinks: [Sink]
    }
    let routes: [Route]
    public let sinks: [Sink]
    /// Every publisher of the pipeline (shared between sinks by URL).
    public let publishers: [any Publisher]
    /// Publishers by URL, for reuse across reloads.
    let publishersByURL: [String: any Publisher]
    /// Meter name → sinks, memoized (meter names are few; matching globs per sample is not).
    private let routeCache = Mutex<[String: [Int]]>([:])
    private let allSinks: [Sink]

    init(routes: [Route], sinks: [Sink], publishersByURL: [String: any Publisher]) {
        self.routes = routes
        self.sinks = sinks
        self.publishersByURL = publishersByURL
        publishers = Array(publishersByURL.values)
        allSinks = sinks
    }

    private func sinkIndices(for meter: String) -> [Int] {
        if let hit = routeCache.withLock({ $0[meter] }) { return hit }
        var idx: [Int] = []
        for r in routes where r.meters.matches(meter) {
            for s in r.sinks { if let i = allSinks.firstIndex(where: { $0 === s }), !idx.contains(i) { idx.append(i) } }
        }
        routeCache.withLock { $0[meter] = idx }
        return idx
    }

    /// Sends a batch to the sinks whose sources match each sample's meter.
    public func publish(_ samples: [Sample]) async {
        guard !samples.isEmpty else { return }
        var perSink = [[Sample]](repeating: [], count: allSinks.count)
        for s in samples {
            for i in sinkIndices(for: s.name) { perSink[i].append(s) }
        }
        for i in perSink.indices where !perSink[i].isEmpty {
            let batch = perSink[i]
            perSink[i] = []
            await allSinks[i].process(batch)
        }
    }

    /// Whether any pipeline source takes this meter.
    public func accepts(_ meter: String) -> Bool { !sinkIndices(for: meter).isEmpty }

    /// Publishers by URL (redacted in their `displayURL`).
    public var publishersByURLs: [String: any Publisher] { publishersByURL }

    /// After a reload: drains the sinks `replacement` does not reuse and closes publishers it dropped.
    public func retire(keeping replacement: Pipeline) async {
        for s in allSinks where !replacement.sinks.contains(where: { $0 === s }) { await s.drain() }
        for (url, p) in publishersByURL where replacement.publishersByURL[url] == nil { await p.close() }
    }

    /// Releases held samples, flushes and closes publishers.
    public func shutdown() async {
        for s in allSinks { await s.drain() }
        for p in publishers { await p.close() }
    }
}

/// Builds a `Pipeline` from a validated pipeline.yaml, checking transformer parameters and publisher
/// URLs with their positions. Publishers are shared by URL, as Ceilometer does.
public enum PipelineBuilder {
    public struct Options: Sendable {
        /// Transformer state of a series idle for this many of its intervals is dropped.
        public var idleIntervals: Double = 3
        /// Interval assumed for a series seen only once (the longest polling interval).
        public var defaultInterval: Double = 600
        public init(idleIntervals: Double = 3, defaultInterval: Double = 600) {
            self.idleIntervals = idleIntervals
            self.defaultInterval = defaultInterval
        }
    }

    /// Validates transformers and publishers only (no files opened): for `validate`.
    public static func check(_ config: PipelineConfig, _ d: Diagnostics, context: PublisherContext = PublisherContext(telemetrySecret: "")) {
        for sink in config.sinks {
            for t in sink.transformers { _ = TransformerFactory.validate(t, d) }
            for p in sink.publishers {
                do {
                    try PublisherFactory.check(try PublisherURL(p.url), context: context)
                } catch {
                    d.error(p.node, "\(error)")
                }
                if let reason = PublisherFactory.skipReason(p.url) { d.warning(p.node, reason) }
            }
        }
    }

    public static func build(_ config: PipelineConfig, context: PublisherContext, options: Options = Options(),
                             reuse previous: Pipeline? = nil, logger: Logger) -> Result<Pipeline, ConfigErrors> {
        let d = Diagnostics()
        var publishers: [String: any Publisher] = [:]
        var sinks: [String: Sink] = [:]
        var ordered: [Sink] = []
        for sinkConfig in config.sinks {
            let key = definitionKey(sinkConfig)
            if let old = previous?.sinks.first(where: { $0.definitionKey == key }) {
                sinks[sinkConfig.name] = old
                ordered.append(old)
                for p in sinkConfig.publishers { publishers[p.url] = previous?.publishersByURL[p.url] }
                continue
            }
            let transformers = sinkConfig.transformers.compactMap { TransformerFactory.validate($0, d) }
            var sinkPublishers: [any Publisher] = []
            for p in sinkConfig.publishers {
                if let existing = publishers[p.url] ?? previous?.publishersByURL[p.url] {
                    publishers[p.url] = existing
                    sinkPublishers.append(existing)
                    continue
                }
                do {
                    switch try PublisherFactory.make(url: p.url, context: context, logger: logger) {
                    case .publisher(let pub):
                        publishers[p.url] = pub
                        sinkPublishers.append(pub)
                    case .skipped(let reason):
                        d.warning(p.node, reason)
                    }
                } catch {
                    d.error(p.node, "\(error)")
                }
            }
            let sink = Sink(name: sinkConfig.name, definitionKey: key, transformers: transformers,
                            publishers: sinkPublishers, idleIntervals: options.idleIntervals,
                            defaultInterval: options.defaultInterval, logger: logger)
            sinks[sinkConfig.name] = sink
            ordered.append(sink)
        }
        guard d.errors.isEmpty else { return .failure(ConfigErrors(d.errors)) }
        for w in d.warnings { logger.warning("\(w)") }
        let routes = config.sources.map { src in
            Pipeline.Route(source: src.name, meters: src.meters, sinks: src.sinks.compactMap { sinks[$0] })
        }
        return .success(Pipeline(routes: routes, sinks: ordered, publishersByURL: publishers))
    }

    /// The sink's definition without positions.
    static func definitionKey(_ s: PipelineSink) -> String {
        let t = s.transformers.map { "\($0.name)=\(JSONWriter.string($0.parameters.value))" }.joined(separator: ";")
        return "\(s.name)|\(t)|\(s.publishers.map(\.url).joined(separator: ","))"
    }
}
