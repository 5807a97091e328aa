import NephometerConfig
import NephometerCore
import Synchronization

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

/// A kind of transformer, registered by name: it validates its `parameters` with positioned
/// diagnostics and gives a definition that makes fresh instances (one per sink).
///
/// A new transformer is a file in `Transformers/` with its class and its kind, a section in
/// docs/transformers.md and tests, plus one line in `TransformerRegistry.builtins` (or
/// `TransformerRegistry.register` from outside the module).
public protocol TransformerKind: Sendable {
    var name: String { get }
    func validate(_ parameters: ConfigNode, _ d: Diagnostics) -> TransformerFactory.Definition?
}

/// Transformer kinds by name.
public enum TransformerRegistry {
    public static let builtins: [any TransformerKind] = [
        UnitConversionKind(), RateOfChangeKind(), DeltaKind(), AccumulatorKind(), AggregatorKind(), ArithmeticKind(),
    ]
    /// Kinds in registration order (the order messages list them in).
    private static let kinds = Mutex<[any TransformerKind]>(builtins)

    public static func register(_ kind: any TransformerKind) {
        kinds.withLock { k in
            k.removeAll { $0.name == kind.name }
            k.append(kind)
        }
    }
    public static func kind(named name: String) -> (any TransformerKind)? { kinds.withLock { $0.first { $0.name == name } } }
    public static var names: [String] { kinds.withLock { $0.map(\.name) } }
}

/// Builds transformers from pipeline.yaml entries through `TransformerRegistry`.
public enum TransformerFactory {
    public static var names: [String] { TransformerRegistry.names }

    /// A validated, buildable transformer definition.
    public struct Definition: Sendable {
        public let name: String
        let make: @Sendable () -> any Transformer
        public init(name: String, make: @escaping @Sendable () -> any Transformer) {
            self.name = name
            self.make = make
        }
        public func instantiate() -> any Transformer { make() }
    }

    public static func validate(_ config: TransformerConfig, _ d: Diagnostics) -> Definition? {
        guard let kind = TransformerRegistry.kind(named: config.name) else {
            let names = TransformerRegistry.names
            d.error(config.nameNode, "No transformer named \(config.name) loaded\(Suggestion.hint(for: config.name, in: names)); expected one of: \(names.joined(separator: ", "))")
            return nil
        }
        return kind.validate(config.parameters, d)
    }
}

struct UnitConversionKind: TransformerKind {
    let name = "unit_conversion"
    func validate(_ p: ConfigNode, _ d: Diagnostics) -> TransformerFactory.Definition? {
        guard let spec = ConversionSpec.parse(p, d, allowed: ConversionSpec.keys) else { return nil }
        return .init(name: name) { UnitConversionTransformer(spec: spec) }
    }
}

struct RateOfChangeKind: TransformerKind {
    let name = "rate_of_change"
    func validate(_ p: ConfigNode, _ d: Diagnostics) -> TransformerFactory.Definition? {
        guard let spec = ConversionSpec.parse(p, d, allowed: ConversionSpec.keys) else { return nil }
        return .init(name: name) { RateOfChangeTransformer(spec: spec) }
    }
}

struct DeltaKind: TransformerKind {
    let name = "delta"
    func validate(_ p: ConfigNode, _ d: Diagnostics) -> TransformerFactory.Definition? {
        guard let spec = ConversionSpec.parse(p, d, allowed: ConversionSpec.keys + ["growth_only"]) else { return nil }
        var growthOnly = false
        if let g = p["growth_only"] {
            guard let v = g.expectBool("growth_only", d) else { return nil }
            growthOnly = v
        }
        let go = growthOnly
        return .init(name: name) { DeltaTransformer(spec: spec, growthOnly: go) }
    }
}

struct AccumulatorKind: TransformerKind {
    let name = "accumulator"
    func validate(_ p: ConfigNode, _ d: Diagnostics) -> TransformerFactory.Definition? {
        p.checkKeys(["size"], d)
        var size = 1
        if let s = p["size"] {
            guard let v = s.expectInt("size (samples to hold before releasing them)", d, in: Int(Int32.min)...1_000_000) else { return nil }
            size = v
        }
        let sz = size
        return .init(name: name) { AccumulatorTransformer(size: sz) }
    }
}

struct AggregatorKind: TransformerKind {
    let name = "aggregator"
    func validate(_ p: ConfigNode, _ d: Diagnostics) -> TransformerFactory.Definition? {
        guard let opts = AggregatorTransformer.Options.parse(p, d) else { return nil }
        return .init(name: name) { AggregatorTransformer(options: opts) }
    }
}

struct ArithmeticKind: TransformerKind {
    let name = "arithmetic"
    func validate(_ p: ConfigNode, _ d: Diagnostics) -> TransformerFactory.Definition? {
        guard let spec = ArithmeticTransformer.Spec.parse(p, d) else { return nil }
        return .init(name: name) { ArithmeticTransformer(spec: spec) }
    }
}
