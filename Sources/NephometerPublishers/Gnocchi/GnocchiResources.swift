import Foundation
import NephometerConfig
import NephometerCore

/// Ceilometer's `gnocchi_resources.yaml`: archive policies, and per resource type the metrics it holds
/// and how its attributes come from a sample (`resource_metadata.(instance_host|host)`).
struct GnocchiResources: Sendable {
    struct ResourceType: Sendable {
        let name: String
        /// Metric name → archive policy.
        let metrics: [String: String]
        /// Attribute → path, in file order.
        let attributes: [(String, AttributePath)]
    }

    let archivePolicies: [MetadataObject]
    let archivePolicyDefault: String
    /// Metric name → its resource type (the first type listing it).
    let byMetric: [String: ResourceType]

    /// Reads the file; an error names its line and column.
    init(file: String, archivePolicyOverride: String?) throws(PublisherURLError) {
        let root: ConfigNode
        do {
            root = FileManager.default.fileExists(atPath: file) || file.hasPrefix("/")
                ? try ConfigNode.load(file: file)
                : try ConfigNode.parse(yaml: GnocchiDefaultResources.yaml, file: "(built-in gnocchi_resources.yaml)")
        } catch {
            throw PublisherURLError("resources_definition_file: \(error)")
        }
        func fail(_ n: ConfigNode, _ m: String) -> PublisherURLError {
            PublisherURLError("\(n.position.file):\(n.position.line):\(n.position.column): \(m)")
        }
        archivePolicyDefault = root["archive_policy_default"]?.scalar ?? "ceilometer-low"
        var policies: [MetadataObject] = []
        for p in root["archive_policies"]?.sequence ?? [] {
            guard let name = p["name"]?.scalar else { throw fail(p, "an archive policy needs a name") }
            var o: MetadataObject = ["name": .string(name)]
            o["aggregation_methods"] = .array((p["aggregation_methods"]?.sequence ?? []).compactMap { $0.scalar.map(MetadataValue.string) })
            o["back_window"] = .int(p["back_window"]?.scalar.flatMap { Int($0) } ?? 0)
            o["definition"] = .array((p["definition"]?.sequence ?? []).map { d in
                var e = MetadataObject()
                for (k, v) in d.mapping ?? [] { if let key = k.scalar, let val = v.scalar { e[key] = .string(val) } }
                return .object(e)
            })
            policies.append(o)
        }
        archivePolicies = policies
        guard let resources = root["resources"]?.sequence else { throw fail(root, "no 'resources' list") }
        var byMetric: [String: ResourceType] = [:]
        for r in resources {
            guard let type = r["resource_type"]?.scalar else { throw fail(r, "a resource definition needs resource_type") }
            var metrics: [String: String] = [:]
            if let list = r["metrics"]?.sequence {
                for m in list { if let name = m.scalar { metrics[name] = archivePolicyDefault } }
            } else if let map = r["metrics"]?.mapping {
                for (k, v) in map {
                    guard let name = k.scalar else { continue }
                    metrics[name] = v["archive_policy_name"]?.scalar ?? archivePolicyDefault
                }
            } else {
                throw fail(r, "resource type \(type) needs a 'metrics' list or mapping")
            }
            if let o = archivePolicyOverride { for k in metrics.keys { metrics[k] = o } }
            if let legacy = r["archive_policy"]?.scalar { for k in metrics.keys { metrics[k] = legacy } }
            var attributes: [(String, AttributePath)] = []
            for (k, v) in r["attributes"]?.mapping ?? [] {
                guard let name = k.scalar, let text = v.scalar else { continue }
                do { attributes.append((name, try AttributePath(text))) } catch { throw fail(v, "attribute \(name): \(error.description)") }
            }
            let rt = ResourceType(name: type, metrics: metrics, attributes: attributes)
            for m in metrics.keys where byMetric[m] == nil { byMetric[m] = rt }
        }
        self.byMetric = byMetric
    }
}

/// The jsonpath subset gnocchi_resources.yaml uses: dotted names, and unions `(a|(b.c)|d)` whose first
/// alternative with a non-null value wins (Ceilometer's `Definition.parse`).
struct AttributePath: Sendable {
    indirect enum Node: Sendable {
        case key(String)
        case union([[Node]])
    }
    let steps: [Node]

    init(_ text: String) throws(PublisherURLError) {
        var p = Parser(chars: Array(text.hasPrefix("$.") ? String(text.dropFirst(2)) : text))
        steps = try p.path()
        guard p.at == p.chars.count else { throw PublisherURLError("unexpected '\(p.chars[p.at])' at \(p.at + 1) in '\(text)'") }
    }

    func value(in root: MetadataValue) -> MetadataValue? { Self.eval(steps[...], root) }

    static func eval(_ steps: ArraySlice<Node>, _ v: MetadataValue) -> MetadataValue? {
        guard let first = steps.first else { return v.isNull ? nil : v }
        switch first {
        case .key(let k):
            guard let next = v[k] else { return nil }
            return eval(steps.dropFirst(), next)
        case .union(let alternatives):
            for alt in alternatives {
                if let hit = eval(ArraySlice(alt), v), let r = eval(steps.dropFirst(), hit) { return r }
            }
            return nil
        }
    }

    struct Parser {
        let chars: [Character]
        var at = 0

        mutating func path() throws(PublisherURLError) -> [Node] {
            var nodes: [Node] = [try step()]
            while at < chars.count, chars[at] == "." {
                at += 1
                nodes.append(try step())
            }
            return nodes
        }

        mutating func step() throws(PublisherURLError) -> Node {
            guard at < chars.count else { throw PublisherURLError("the path ends early") }
            if chars[at] == "(" {
                at += 1
                var alternatives: [[Node]] = []
                while true {
                    if at < chars.count, chars[at] == "(" {
                        at += 1
                        alternatives.append(try path())
                        guard at < chars.count, chars[at] == ")" else { throw PublisherURLError("a '(' is not closed") }
                        at += 1
                    } else {
                        alternatives.append(try path())
                    }
                    guard at < chars.count else { throw PublisherURLError("a '(' is not closed") }
                    if chars[at] == "|" { at += 1; continue }
                    if chars[at] == ")" { at += 1; break }
                    throw PublisherURLError("expected '|' or ')' at \(at + 1)")
                }
                return .union(alternatives)
            }
            var name = ""
            while at < chars.count, chars[at].isLetter || chars[at].isNumber || chars[at] == "_" || chars[at] == "-" || chars[at] == ":" {
                name.append(chars[at]); at += 1
            }
            guard !name.isEmpty else { throw PublisherURLError("expected a name at \(at + 1)") }
            return .key(name)
        }
    }
}
