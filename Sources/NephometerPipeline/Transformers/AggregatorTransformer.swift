import Logging
import NephometerConfig
import NephometerCore

/// `aggregator`: merges samples of the same meter and resource (and of the same user/project when those
/// have no policy) and releases one sample per group when `size` samples arrived or the oldest held one
/// is `retention_time` seconds old, and at shutdown. Deltas are summed, cumulatives keep the last value,
/// gauges are averaged, as Ceilometer did.
final class AggregatorTransformer: Transformer {
    enum Policy: String, Sendable { case first, last, drop }

    struct Options: Sendable {
        var size: Int?
        var retentionTime: Double?
        var projectID: Policy?
        var userID: Policy?
        var resourceMetadata: Policy = .last
        var timestamp: Policy = .first
        var spec: ConversionSpec

        static func parse(_ p: ConfigNode, _ d: Diagnostics) -> Options? {
            let before = d.errors.count
            let keys = ConversionSpec.keys + ["size", "retention_time", "project_id", "user_id", "resource_metadata", "timestamp"]
            guard let spec = ConversionSpec.parse(p, d, allowed: keys) else { return nil }
            var o = Options(spec: spec)
            if let n = p["size"], !n.isNull, let v = n.expectInt("size (samples per flush)", d, in: 0...Int(Int32.max)) { o.size = v == 0 ? nil : v }
            if let n = p["retention_time"], !n.isNull, let v = n.expectDouble("retention_time in seconds", d, in: 0...1e9) { o.retentionTime = v == 0 ? nil : v }
            func policy(_ key: String, _ allowed: [Policy]) -> Policy? {
                guard let n = p[key], !n.isNull, let s = n.expectString("the \(key) policy", d) else { return nil }
                guard let v = Policy(rawValue: s), allowed.contains(v) else {
                    d.error(n, "unknown \(key) policy '\(s)'; expected \(allowed.map(\.rawValue).joined(separator: " or "))")
                    return nil
                }
                return v
            }
            o.projectID = policy("project_id", [.first, .last])
            o.userID = policy("user_id", [.first, .last])
            if let v = policy("resource_metadata", [.first, .last, .drop]) { o.resourceMetadata = v }
            if let v = policy("timestamp", [.first, .last]) { o.timestamp = v }
            if o.size == nil && o.retentionTime == nil { o.size = 1 }
            return d.errors.count == before ? o : nil
        }
    }

    struct Group {
        var sample: Sample
        var count: Int
    }

    let options: Options
    let converter: Converter
    var groups: [String: Group] = [:]
    var order: [String] = []
    var received = 0
    var firstArrival: Double?
    static let logger = Logger(label: "nephometer.transformer.aggregator")

    init(options: Options) {
        self.options = options
        converter = Converter(spec: options.spec, tag: "aggregator")
    }

    private func key(_ s: Sample) -> String {
        var k = s.name + "\u{0}" + s.resourceID
        if options.projectID == nil { k += "\u{0}" + (s.projectID ?? "<undefined>") }
        if options.userID == nil { k += "\u{0}" + (s.userID ?? "<undefined>") }
        return k
    }

    func handle(_ s: inout Sample, now: Double) -> Bool {
        if firstArrival == nil { firstArrival = now }
        received += 1
        let k = key(s)
        let scaled: Number
        do { scaled = try converter.scaled(s, base: s.volume) } catch {
            Self.logger.warning("aggregator: dropping \(s.name) of \(s.resourceID): scale failed: \(error)")
            return false
        }
        if var g = groups[k] {
            g.count += 1
            if options.timestamp == .last { g.sample.timestamp = s.timestamp }
            if s.type == .cumulative {
                g.sample.volume = scaled
            } else {
                g.sample.volume = (try? Arithmetic.apply(.add, g.sample.volume, scaled)) ?? .double(g.sample.volume.doubleValue + scaled.doubleValue)
            }
            if options.projectID == .last { g.sample.projectID = s.projectID; g.sample.projectName = s.projectName }
            if options.userID == .last { g.sample.userID = s.userID; g.sample.userName = s.userName }
            if options.resourceMetadata == .last { g.sample.resourceMetadata = s.resourceMetadata }
            groups[k] = g
        } else {
            var first = s
            converter.derive(&first, volume: scaled)
            if options.resourceMetadata == .drop { first.resourceMetadata = MetadataObject() }
            groups[k] = Group(sample: first, count: 1)
            order.append(k)
        }
        return false
    }

    func flush(now: Double, final: Bool) -> [Sample] {
        guard let first = firstArrival else { return [] }
        let full = options.size.map { received >= $0 } ?? false
        let expired = options.retentionTime.map { now - first >= $0 } ?? false
        guard full || expired || final else { return [] }
        var out: [Sample] = []
        out.reserveCapacity(order.count)
        for k in order {
            guard var g = groups[k] else { continue }
            if g.sample.type == .gauge { g.sample.volume = .double(g.sample.volume.doubleValue / Double(g.count)) }
            // The aggregate's id derives from the ids it merged, so a replay gives the same id.
            g.sample.pendingDerivation = MessageID.fold(g.sample.pendingDerivation, tag: "aggregator#\(g.count)")
            out.append(g.sample)
        }
        groups.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
        received = 0
        firstArrival = nil
        return out
    }
}
