import NephometerCore
/// One `sources` entry of polling.yaml: what to poll, how often, on which resources.
public struct PollingSource: Sendable, Hashable {
    public let name: String
    public let interval: Int
    public let meters: MeterSelector
    public let resources: [String]
    public let discovery: [String]
    public let position: Position

    public init(name: String, interval: Int, meters: [String], resources: [String] = [], discovery: [String] = [],
                position: Position = Position(file: "<memory>", line: 0, column: 0)) {
        self.name = name
        self.interval = interval
        self.meters = MeterSelector(meters)
        self.resources = resources
        self.discovery = discovery
        self.position = position
    }
}

/// polling.yaml, in Ceilometer's format.
public struct PollingConfig: Sendable, Hashable {
    public let file: String
    public let sources: [PollingSource]

    public init(file: String, sources: [PollingSource]) {
        self.file = file
        self.sources = sources
    }

    static let rootKeys = ["sources"]
    static let sourceKeys = ["name", "interval", "meters", "resources", "discovery"]
    static let legacySourceKeys = [
        "group_id_coordination_expression": "dynamic pollsters are not supported by Nephometer",
        "sinks": "sinks belong in pipeline.yaml (polling sources only choose what to poll)",
    ]

    /// Validates a parsed polling.yaml. Every problem is reported in `d`; the config is returned only when
    /// there were none.
    public static func validate(_ root: ConfigNode, _ d: Diagnostics) -> PollingConfig? {
        let before = d.errors.count
        let file = root.position.file
        guard let _ = root.expectMapping("a polling file with a 'sources' list", d) else { return nil }
        root.checkKeys(rootKeys, d)
        guard let sourcesNode = root["sources"] else {
            d.error(root, "sources required (expected a 'sources' list of polling sources at the top level)")
            return nil
        }
        guard let items = sourcesNode.sequence else {
            d.error(sourcesNode, "expected a list of polling sources, got \(sourcesNode.kindName)")
            return nil
        }
        var sources: [PollingSource] = []
        var names: [String: ConfigNode] = [:]
        for item in items {
            guard let _ = item.expectMapping("a polling source with name, interval and meters", d) else { continue }
            item.checkKeys(sourceKeys, d, legacy: legacySourceKeys)
            let name = item.uniqueName("source", seen: &names, d) {
                "duplicated source name '\($0)' (first at line \($1)); source names must be unique"
            }
            var interval: Int?
            if let i = item["interval"] {
                interval = i.expectInt("interval in seconds", d, in: 1...Int(Int32.max))
            } else {
                d.error(item, "Missing interval value (expected 'interval: <seconds>', a whole number > 0)")
            }
            let meters = item.meterList(d)
            var resources: [String] = []
            if let r = item["resources"], !r.isNull {
                if r.sequence == nil { d.error(r, "Resources should be a list (expected a list of resource URLs or names, got \(r.kindName))") }
                else { resources = r.expectStringList("resources", d) ?? [] }
            }
            var discovery: [String] = []
            if let r = item["discovery"], !r.isNull {
                if r.sequence == nil { d.error(r, "Discovery should be a list (expected a list of discovery names, got \(r.kindName))") }
                else { discovery = r.expectStringList("discovery", d) ?? [] }
            }
            if let name, let interval, let meters {
                sources.append(PollingSource(name: name, interval: interval, meters: meters, resources: resources,
                                             discovery: discovery, position: item.position))
            }
        }
        guard d.errors.count == before else { return nil }
        return PollingConfig(file: file, sources: sources)
    }
}
