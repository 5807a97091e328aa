import NephometerConfig
import NephometerCore

/// The `source`/`target` parameters shared by unit_conversion, rate_of_change and delta
/// (Ceilometer's BaseConversionTransformer / ScalingTransformer).
struct ConversionSpec: Sendable {
    static let keys = ["source", "target"]
    static let sourceKeys = ["unit", "map_from"]
    static let targetKeys = ["name", "unit", "type", "scale", "max", "map_to"]

    var sourceUnit: String?
    var mapFrom: [String: String] = [:]
    var targetName: String?
    var targetUnit: String?
    var targetType: SampleType?
    /// A number multiplies the volume; an expression is evaluated over the sample.
    var scale: Scale?
    var max: Double?
    var mapTo: [String: String] = [:]

    enum Scale: Sendable {
        case factor(Number)
        case expression(Expression)
    }

    static func parse(_ p: ConfigNode, _ d: Diagnostics, allowed: [String]) -> ConversionSpec? {
        let before = d.errors.count
        p.checkKeys(allowed, d)
        var spec = ConversionSpec()
        if let src = p["source"], !src.isNull, src.expectMapping("source (unit, map_from)", d) != nil {
            src.checkKeys(sourceKeys, d)
            if let u = src["unit"] { spec.sourceUnit = u.expectString("the source unit", d, allowEmpty: true) }
            if let m = src["map_from"] { spec.mapFrom = parseMap(m, d, what: "map_from") }
        }
        if let tgt = p["target"], !tgt.isNull, tgt.expectMapping("target (name, unit, type, scale, max, map_to)", d) != nil {
            tgt.checkKeys(targetKeys, d)
            if let n = tgt["name"] { spec.targetName = n.expectString("the target meter name", d) }
            if let u = tgt["unit"] { spec.targetUnit = u.expectString("the target unit", d, allowEmpty: true) }
            if let t = tgt["type"], let s = t.expectString("the target type", d) {
                if let ty = SampleType(rawValue: s) { spec.targetType = ty }
                else { d.error(t, "unknown sample type '\(s)'\(Suggestion.hint(for: s, in: SampleType.allCases.map(\.rawValue))); expected gauge, delta or cumulative") }
            }
            if let s = tgt["scale"] {
                switch s.value {
                case .number(let n) where !n.doubleValue.isFinite:
                    d.error(s, "expected scale (a finite number or an expression), got \(s.scalar ?? "?")")
                case .number(let n): spec.scale = .factor(n)
                case .string(let text):
                    do { spec.scale = .expression(try Expression(text)) }
                    catch { d.error(s, "scale: cannot parse expression '\(text)': \(error)") }
                default: d.error(s, "expected scale (a number or an expression over volume and resource_metadata), got \(s.kindName)")
                }
            }
            if let m = tgt["max"] {
                if case .number(let n) = m.value, n.doubleValue.isFinite { spec.max = n.doubleValue }
                else { d.error(m, "expected max (a number), got \(m.scalar.map { "'\($0)'" } ?? m.kindName)") }
            }
            if let m = tgt["map_to"] { spec.mapTo = parseMap(m, d, what: "map_to") }
        }
        for (attr, pattern) in spec.mapFrom {
            if let problem = RegexMapping.problem(pattern), let node = p["source"]?["map_from"]?[attr] {
                d.error(node, "map_from.\(attr): invalid regular expression '\(pattern)': \(problem)")
            } else if let template = spec.mapTo[attr], let problem = RegexMapping.templateProblem(template, pattern: pattern),
                      let node = p["target"]?["map_to"]?[attr] {
                d.error(node, "map_to.\(attr): \(problem)")
            }
        }
        return d.errors.count == before ? spec : nil
    }

    private static func parseMap(_ node: ConfigNode, _ d: Diagnostics, what: String) -> [String: String] {
        guard let entries = node.expectMapping("\(what) (name and/or unit patterns)", d) else { return [:] }
        node.checkKeys(["name", "unit"], d)
        var out: [String: String] = [:]
        for (k, v) in entries {
            if let key = k.scalar, let s = v.expectString("a \(what) pattern", d) { out[key] = s }
        }
        return out
    }
}

/// The compiled conversion: name/unit mapping, scale and cap, applied to a sample.
final class Converter {
    let spec: ConversionSpec
    private let nameMap: RegexMapping?
    private let unitMap: RegexMapping?
    /// The transformer's name, hashed once: it is folded into derived samples' ids.
    private let tagHash: UInt64
    /// `spec.scale` taken apart once, so the per-sample path does not copy the enum's payload.
    let scaleFactor: Number?
    /// The scale expression's compiled program (one reference to retain per use, not the whole expression).
    let scaleProgram: ExpressionProgram?

    init(spec: ConversionSpec, tag: String) {
        self.spec = spec
        tagHash = MessageID.tagHash(tag)
        switch spec.scale {
        case .factor(let f): scaleFactor = f; scaleProgram = nil
        case .expression(let e): scaleFactor = nil; scaleProgram = e.program
        case nil: scaleFactor = nil; scaleProgram = nil
        }
        func mapping(_ attr: String) -> RegexMapping? {
            guard let from = spec.mapFrom[attr], !from.isEmpty, let to = spec.mapTo[attr], !to.isEmpty else { return nil }
            return RegexMapping(pattern: from, template: to)
        }
        nameMap = mapping("name")
        unitMap = mapping("unit")
    }

    /// Whether the sample's unit is the configured source unit (or none is configured).
    func applies(to s: Sample) -> Bool { spec.sourceUnit.map { $0 == s.unit } ?? true }

    func mappedName(_ s: Sample) -> String {
        if let m = nameMap, let v = m.apply(s.name), !v.isEmpty { return v }
        return spec.targetName ?? s.name
    }

    func mappedUnit(_ s: Sample) -> String {
        if let m = unitMap, let v = m.apply(s.unit), !v.isEmpty { return v }
        return spec.targetUnit ?? s.unit
    }

    /// The scale factor applied to `s`: the expression's value, the number, or nil when there is none.
    func scaled(_ s: Sample, base: Number) throws(Expression.EvaluationError) -> Number {
        if let p = scaleProgram { return try p.number(in: s) }
        guard let f = scaleFactor, f.doubleValue != 0 else { return base }  // Ceilometer: a falsy scale means no scaling
        return try Arithmetic.apply(.multiply, base, f)
    }

    func capped(_ v: Number) -> Number {
        guard let max = spec.max, max != 0 else { return v }
        return v.doubleValue > max ? (v.isInteger && max.rounded() == max ? Number(max) : .double(max)) : v
    }

    /// A new sample carrying `volume`, with mapped name and unit and the target type.
    /// Turns `s` into the derived sample in place (its id is derived by the sink at the end of the chain).
    func derive(_ s: inout Sample, volume: Number, type: SampleType? = nil) {
        if nameMap != nil || spec.targetName != nil { s.name = mappedName(s) }
        if unitMap != nil || spec.targetUnit != nil { s.unit = mappedUnit(s) }
        s.type = type ?? spec.targetType ?? s.type
        s.volume = capped(volume)
        s.pendingDerivation = MessageID.fold(s.pendingDerivation, tagHash: tagHash)
    }
}

extension Number {
    init(_ d: Double) {
        if d.rounded() == d, abs(d) < 9.2e18 { self = .int(Int64(d)) } else { self = .double(d) }
    }
}
