import Logging
import NephometerConfig
import NephometerCore

/// `arithmetic`: computes a new meter from others of the same resource, e.g.
/// `expr: "100 * $(memory.usage) / $(memory)"`. `$(meter)` is that meter's volume and
/// `$(meter).resource_metadata.x` its metadata. Evaluated per resource at flush once every referenced
/// meter has arrived; division by zero or a missing operand drops the result with a warning.
final class ArithmeticTransformer: Transformer {
    struct Spec: Sendable {
        var name: String
        var unit: String?
        var type: SampleType?
        var expression: Expression
        /// Meter names in order of first reference; variable `__mN` is meter N.
        var meters: [String]

        static func parse(_ p: ConfigNode, _ d: Diagnostics) -> Spec? {
            let before = d.errors.count
            p.checkKeys(["target"], d)
            guard let t = p["target"] else {
                d.error(p, "arithmetic needs a target with name and expr")
                return nil
            }
            guard t.expectMapping("target (name, unit, type, expr)", d) != nil else { return nil }
            t.checkKeys(["name", "unit", "type", "expr"], d)
            guard let nameNode = t["name"] else { d.error(t, "target.name required (the new meter's name)"); return nil }
            guard let exprNode = t["expr"] else { d.error(t, "target.expr required, e.g. \"100 * $(memory.usage) / $(memory)\""); return nil }
            guard let name = nameNode.expectString("the target meter name", d),
                  let exprText = exprNode.expectString("the expression", d) else { return nil }
            var unit: String?
            if let u = t["unit"] { unit = u.expectString("the target unit", d, allowEmpty: true) }
            var type: SampleType?
            if let n = t["type"], let s = n.expectString("the target type", d) {
                type = SampleType(rawValue: s)
                if type == nil { d.error(n, "unknown sample type '\(s)'; expected gauge, delta or cumulative") }
            }
            let (rewritten, meters) = rewrite(exprText)
            if meters.isEmpty {
                d.error(exprNode, "expression '\(exprText)' references no meter; write meters as $(meter.name)")
                return nil
            }
            do {
                let e = try Expression(rewritten)
                if let bad = e.rootNames.first(where: { !$0.hasPrefix("__m") }) {
                    d.error(exprNode, "expression '\(exprText)' uses '\(bad)'; only $(meter) references, numbers and functions are allowed")
                    return nil
                }
                return d.errors.count == before ? Spec(name: name, unit: unit, type: type, expression: e, meters: meters) : nil
            } catch {
                d.error(exprNode, "cannot parse expression '\(exprText)': \(error)")
                return nil
            }
        }

        /// Replaces `$(name)` with `__mN` (`__mN.volume` unless followed by `.`).
        static func rewrite(_ text: String) -> (String, [String]) {
            var out = ""
            var meters: [String] = []
            var i = text.startIndex
            while i < text.endIndex {
                if text[i...].hasPrefix("$("), let close = text[i...].firstIndex(of: ")") {
                    let name = String(text[text.index(i, offsetBy: 2)..<close])
                    let valid = !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-" }
                    if valid {
                        let idx = meters.firstIndex(of: name) ?? { meters.append(name); return meters.count - 1 }()
                        out += "__m\(idx)"
                        let after = text.index(after: close)
                        if after == text.endIndex || text[after] != "." { out += ".volume" }
                        i = after
                        continue
                    }
                }
                out.append(text[i])
                i = text.index(after: i)
            }
            return (out, meters)
        }
    }

    let spec: Spec
    /// resource id → meter index → latest sample.
    var cache = StateTable<String, [Int: Sample]>()
    var latestTimestamp: String?
    static let logger = Logger(label: "nephometer.transformer.arithmetic")

    init(spec: Spec) { self.spec = spec }

    func handle(_ s: inout Sample, now: Double) -> Bool {
        guard let idx = spec.meters.firstIndex(of: s.name) else { return true }
        var entry = cache[s.resourceID] ?? [:]
        entry[idx] = s
        cache.set(s.resourceID, entry, now: now)
        if let t = s.timestamp, latestTimestamp.map({ Time.parseISO(t) ?? 0 > Time.parseISO($0) ?? 0 }) ?? true {
            latestTimestamp = t
        }
        return false
    }

    func flush(now: Double, final: Bool) -> [Sample] {
        var out: [Sample] = []
        for (resource, entry) in cache.entries where entry.value.count == spec.meters.count {
            let samples = entry.value
            cache.remove(resource)
            guard let reference = samples[0] else { continue }
            let result: Number
            do {
                result = try spec.expression.number { path in
                    guard let head = path.first, head.hasPrefix("__m"), let n = Int(head.dropFirst(3)), let s = samples[n] else { return .missing }
                    return SampleFields.value(s, path.dropFirst())
                }
            } catch {
                Self.logger.warning("arithmetic: \(spec.name) for \(resource) not computed: \(error)")
                continue
            }
            let v = result.doubleValue
            guard v.isFinite else {
                Self.logger.warning("arithmetic: \(spec.name) for \(resource) is \(v); not emitted")
                continue
            }
            var s = reference
            s.name = spec.name
            s.unit = spec.unit ?? reference.unit
            s.type = spec.type ?? reference.type
            s.volume = .double(v)
            s.timestamp = latestTimestamp ?? reference.timestamp
            s.id = spec.meters.indices.compactMap { samples[$0]?.id }.joined(separator: "+")
            s.pendingDerivation = MessageID.fold(s.pendingDerivation, tag: "arithmetic:\(spec.name)")
            out.append(s)
        }
        return out
    }

    func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int {
        cache.prune(now: now, idleIntervals: idleIntervals, defaultInterval: defaultInterval)
    }
}
