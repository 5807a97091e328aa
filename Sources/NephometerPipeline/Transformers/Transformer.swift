import NephometerConfig
import NephometerCore

/// A step of a sink: takes samples one at a time, may drop, change or hold them, and may release held
/// samples on `flush`. Transformers are owned by one sink and only used from it.
public protocol Transformer: AnyObject {
    /// Transforms `sample` in place; false drops it (or the transformer holds a copy).
    func handle(_ sample: inout Sample, now: Double) -> Bool
    /// Samples released after each batch (accumulator, aggregator, arithmetic). `final` is true at shutdown.
    func flush(now: Double, final: Bool) -> [Sample]
    /// Forgets state of resources not seen for a while; returns how many entries were dropped.
    func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int
}

public extension Transformer {
    func flush(now: Double, final: Bool) -> [Sample] { [] }
    func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int { 0 }
}

/// Builds transformers from pipeline.yaml entries, validating their parameters with positions.
public enum TransformerFactory {
    public static let names = ["unit_conversion", "rate_of_change", "delta", "accumulator", "aggregator", "arithmetic"]

    /// A validated, buildable transformer definition.
    public struct Definition: Sendable {
        public let name: String
        let make: @Sendable () -> any Transformer
        public func instantiate() -> any Transformer { make() }
    }

    public static func validate(_ config: TransformerConfig, _ d: Diagnostics) -> Definition? {
        let p = config.parameters
        switch config.name {
        case "unit_conversion":
            guard let spec = ConversionSpec.parse(p, d, allowed: ConversionSpec.keys) else { return nil }
            return Definition(name: config.name) { UnitConversionTransformer(spec: spec) }
        case "rate_of_change":
            guard let spec = ConversionSpec.parse(p, d, allowed: ConversionSpec.keys) else { return nil }
            return Definition(name: config.name) { RateOfChangeTransformer(spec: spec) }
        case "delta":
            guard let spec = ConversionSpec.parse(p, d, allowed: ConversionSpec.keys + ["growth_only"]) else { return nil }
            var growthOnly = false
            if let g = p["growth_only"] {
                guard let v = g.expectBool("growth_only", d) else { return nil }
                growthOnly = v
            }
            let go = growthOnly
            return Definition(name: config.name) { DeltaTransformer(spec: spec, growthOnly: go) }
        case "accumulator":
            p.checkKeys(["size"], d)
            var size = 1
            if let s = p["size"] {
                guard let v = s.expectInt("size (samples to hold before releasing them)", d) else { return nil }
                size = v
            }
            let sz = size
            return Definition(name: config.name) { AccumulatorTransformer(size: sz) }
        case "aggregator":
            guard let opts = AggregatorTransformer.Options.parse(p, d) else { return nil }
            return Definition(name: config.name) { AggregatorTransformer(options: opts) }
        case "arithmetic":
            guard let spec = ArithmeticTransformer.Spec.parse(p, d) else { return nil }
            return Definition(name: config.name) { ArithmeticTransformer(spec: spec) }
        default:
            d.error(config.nameNode, "No transformer named \(config.name) loaded\(Suggestion.hint(for: config.name, in: names)); expected one of: \(names.joined(separator: ", "))")
            return nil
        }
    }
}
