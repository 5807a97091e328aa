import NephometerCore

/// One `sources` entry of pipeline.yaml: which meters go to which sinks.
public struct PipelineSource: Sendable, Hashable {
    public let name: String
    public let meters: MeterSelector
    public let sinks: [String]
    public let position: Position
}

/// A transformer entry of a sink: its name and its parameters, kept as nodes so the pipeline can
/// validate them with positions.
public struct TransformerConfig: Sendable, Hashable {
    public let name: String
    public let parameters: ConfigNode
    public let position: Position
    public let nameNode: ConfigNode
}

/// A publisher entry of a sink: the URL as written (with `://` appended when missing, as Ceilometer does).
public struct PublisherConfig: Sendable, Hashable {
    public let url: String
    public let scheme: String
    public let node: ConfigNode
}

/// One `sinks` entry of pipeline.yaml.
public struct PipelineSink: Sendable, Hashable {
    public let name: String
    public let transformers: [TransformerConfig]
    public let publishers: [PublisherConfig]
    public let position: Position
}

/// pipeline.yaml, in Ceilometer's format.
public struct PipelineConfig: Sendable, Hashable {
    public let file: String
    public let sources: [PipelineSource]
    public let sinks: [PipelineSink]

    static let rootKeys = ["sources", "sinks"]
    static let sourceKeys = ["name", "meters", "sinks"]
    static let legacySourceKeys = [
        "interval": "polling intervals belong in polling.yaml",
        "resources": "resources belong in polling.yaml",
        "discovery": "discovery belongs in polling.yaml",
    ]
    static let sinkKeys = ["name", "transformers", "publishers"]
    static let transformerKeys = ["name", "parameters"]

    public static func validate(_ root: ConfigNode, _ d: Diagnostics) -> PipelineConfig? {
        let before = d.errors.count
        let file = root.position.file
        guard let _ = root.expectMapping("a pipeline file with 'sources' and 'sinks' lists", d) else { return nil }
        root.checkKeys(rootKeys, d)
        guard let sourcesNode = root["sources"], let sinksNode = root["sinks"] else {
            d.error(root, "Both sources & sinks are required (expected top-level 'sources' and 'sinks' lists; missing \(root["sources"] == nil ? "'sources'" : "'sinks'"))")
            return nil
        }
        let sinks = validateSinks(sinksNode, d)
        let sinkNames = Set(sinks.map(\.name))
        var sources: [PipelineSource] = []
        var names: [String: ConfigNode] = [:]
        if let items = sourcesNode.sequence {
            for item in items {
                guard let _ = item.expectMapping("a pipeline source with name, meters and sinks", d) else { continue }
                item.checkKeys(sourceKeys, d, legacy: legacySourceKeys)
                let name = item.uniqueName("source", seen: &names, d) {
                    "Duplicated source names: \($0) (first at line \($1)); source names must be unique"
                }
                let meters = item.meterList(d)
                var sourceSinks: [String]?
                if let s = item["sinks"] {
                    if let list = s.expectStringList("sinks", d) {
                        if list.isEmpty {
                            d.error(s, "No sink defined in source \(name ?? "?") (expected at least one sink name)")
                        } else {
                            for (i, sinkName) in list.enumerated() where !sinkNames.contains(sinkName) {
                                let node = s.sequence?[i] ?? s
                                d.error(node, "Dangling sink \(sinkName) from source \(name ?? "?") (no sink with that name in 'sinks'\(Suggestion.hint(for: sinkName, in: Array(sinkNames))))")
                            }
                            sourceSinks = list
                        }
                    }
                } else {
                    d.error(item, "Required field sinks not specified (expected 'sinks:' with a list of sink names)")
                }
                if let name, let meters, let sourceSinks {
                    sources.append(PipelineSource(name: name, meters: MeterSelector(meters), sinks: sourceSinks, position: item.position))
                }
            }
        } else {
            d.error(sourcesNode, "expected a list of pipeline sources, got \(sourcesNode.kindName)")
        }
        // Ceilometer names a pipeline after its source and sink; two equal names collide.
        var pipelineNames: [String: String] = [:]
        for source in sources {
            for sink in source.sinks {
                let pname = source.name == sink ? source.name : "\(source.name):\(sink)"
                if let other = pipelineNames[pname] {
                    d.error(ConfigError(file: file, line: source.position.line, column: source.position.column,
                                        keyPath: "sources", message: "Duplicate pipeline name: \(pname). Ensure pipeline names are unique. (name is the source and sink names combined; also formed by \(other))"))
                }
                pipelineNames[pname] = "source '\(source.name)' and sink '\(sink)'"
            }
        }
        guard d.errors.count == before else { return nil }
        return PipelineConfig(file: file, sources: sources, sinks: sinks)
    }

    private static func validateSinks(_ node: ConfigNode, _ d: Diagnostics) -> [PipelineSink] {
        guard let items = node.sequence else {
            d.error(node, "expected a list of sinks, got \(node.kindName)")
            return []
        }
        var sinks: [PipelineSink] = []
        var names: [String: ConfigNode] = [:]
        for item in items {
            guard let _ = item.expectMapping("a sink with name and publishers", d) else { continue }
            item.checkKeys(sinkKeys, d)
            let name = item.uniqueName("sink", seen: &names, d) {
                "Duplicated sink names: \($0) (first at line \($1)); sink names must be unique"
            }
            var transformers: [TransformerConfig] = []
            if let t = item["transformers"], !t.isNull {
                if let list = t.sequence {
                    for entry in list {
                        guard let _ = entry.expectMapping("a transformer with name and parameters", d) else { continue }
                        entry.checkKeys(transformerKeys, d)
                        guard let nameNode = entry["name"] else {
                            d.error(entry, "Required field name not specified (expected 'name: <transformer>')")
                            continue
                        }
                        guard let tname = nameNode.expectString("the transformer name", d) else { continue }
                        let params = entry["parameters"] ?? ConfigNode(kind: .mapping([]), position: entry.position, path: entry.path + ".parameters")
                        if !params.isNull && params.mapping == nil {
                            d.error(params, "expected transformer parameters (a mapping), got \(params.kindName)")
                            continue
                        }
                        let normalized = params.isNull ? ConfigNode(kind: .mapping([]), position: params.position, path: params.path) : params
                        transformers.append(TransformerConfig(name: tname, parameters: normalized, position: entry.position, nameNode: nameNode))
                    }
                } else {
                    d.error(t, "expected a list of transformers, got \(t.kindName)")
                }
            }
            var publishers: [PublisherConfig] = []
            if let p = item["publishers"], let list = p.expectStringList("publishers", d) {
                if list.isEmpty {
                    d.error(p, "No publisher specified (expected at least one publisher URL, e.g. file:///var/log/nephometer/samples.log)")
                }
                for (i, raw) in list.enumerated() {
                    let url = raw.contains("://") ? raw : raw + "://"
                    let scheme = url.range(of: "://").map { String(url[..<$0.lowerBound]) } ?? url
                    publishers.append(PublisherConfig(url: url, scheme: scheme, node: p.sequence?[i] ?? p))
                }
            } else if item["publishers"] == nil {
                d.error(item, "No publisher specified (expected 'publishers:' with a list of publisher URLs)")
            }
            if let name {
                sinks.append(PipelineSink(name: name, transformers: transformers, publishers: publishers, position: item.position))
            }
        }
        return sinks
    }
}
