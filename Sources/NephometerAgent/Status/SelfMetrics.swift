import CoreMetrics
import Foundation
import Metrics
import NephometerCore
import NephometerPublishers
import Prometheus
import Synchronization

/// The agent's own metrics: components record through swift-metrics; this factory hands them to
/// swift-prometheus with the help text of the catalog below (Prometheus' conventions: base units,
/// `_total` counters, a `# HELP` for every metric). State that is a snapshot (queues, spools, rings,
/// families) is read at each scrape by `SnapshotMetrics`.
public struct SelfMetricsFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    static let help: [String: String] = [
        "nephometer_pollster_duration_seconds": "Time one pollster took to poll its resources in a cycle",
        "nephometer_pollster_samples_total": "Samples the pollsters produced",
        "nephometer_pollster_errors_total": "Pollster runs that failed as a whole",
        "nephometer_pipeline_queue_dropped_samples_total": "Samples dropped because the queue between polling and the pipeline was full",
        "nephometer_reloads_total": "Configuration reloads, by result",
    ]

    static func text(_ label: String) -> String { help[label] ?? label.replacingOccurrences(of: "_", with: " ") }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: Self.text(label))
    }
    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: Self.text(label))
    }
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        registry.makeGauge(name: label, labels: dimensions, help: Self.text(label))
    }
    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(name: label, labels: dimensions, help: Self.text(label))
    }
    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(name: label, labels: dimensions, buckets: Self.buckets, help: Self.text(label))
    }
    static let buckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
                                      .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]

    public func destroyCounter(_ handler: any CounterHandler) { if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) } }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) } }
    public func destroyRecorder(_ handler: any RecorderHandler) { if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) } }
    public func destroyMeter(_ handler: any MeterHandler) { if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) } }
    public func destroyTimer(_ handler: any TimerHandler) { if let h = handler as? DurationHistogram { registry.unregisterDurationHistogram(h) } }
}

/// Values read from snapshots at scrape time, written into the registry: gauges set, counters advanced
/// by their growth since the last scrape (a source that started over counts from zero again); label sets that disappeared (a publisher a reload removed,
/// a host no longer among the slowest) are unregistered. Label sets are bounded by configuration.
final class SnapshotMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private struct Key: Hashable { let name: String; let labels: [String] }
    private struct State {
        var gauges: [Key: Prometheus.Gauge] = [:]
        var counters: [Key: (Prometheus.Counter, Int64)] = [:]
    }
    private let state = Mutex(State())

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    struct Value {
        let name: String
        let help: String
        let labels: [(String, String)]
        let value: Double
        let counter: Bool
    }

    /// Makes the registry hold exactly these snapshot values.
    func update(_ values: [Value]) {
        state.withLock { s in
            var seenGauges = Set<Key>(), seenCounters = Set<Key>()
            for v in values {
                let key = Key(name: v.name, labels: v.labels.flatMap { [$0.0, $0.1] })
                if v.counter {
                    seenCounters.insert(key)
                    let total = Int64(clamping: Int(v.value.isFinite ? v.value : 0))
                    if let (c, last) = s.counters[key] {
                        // A source that went down started over (a family a reload rebuilt): its new
                        // count is growth too, so the exported counter stays monotonic and complete.
                        let growth = total >= last ? total - last : total
                        if growth > 0 { c.increment(by: growth) }
                        s.counters[key] = (c, total)
                    } else {
                        let c = registry.makeCounter(name: v.name, labels: v.labels, help: v.help)
                        if total > 0 { c.increment(by: total) }
                        s.counters[key] = (c, total)
                    }
                } else {
                    seenGauges.insert(key)
                    let g = s.gauges[key] ?? registry.makeGauge(name: v.name, labels: v.labels, help: v.help)
                    s.gauges[key] = g
                    g.set(v.value)
                }
            }
            for (k, g) in s.gauges where !seenGauges.contains(k) { registry.unregisterGauge(g); s.gauges[k] = nil }
            for (k, c) in s.counters where !seenCounters.contains(k) { registry.unregisterCounter(c.0); s.counters[k] = nil }
        }
    }
}
