import NephometerCore
import Yams

/// Where a node sits in its file (1-based line and column).
public struct Position: Sendable, Hashable {
    public let file: String
    public let line: Int
    public let column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
}

/// A YAML node with its position and its key path, the input of every config validator.
///
/// Built from Yams' node tree once; validators walk it and turn problems into `ConfigError`s that name
/// the file, line, column and key.
public struct ConfigNode: Sendable, Hashable {
    public indirect enum Kind: Sendable, Hashable {
        case scalar(String, plain: Bool)
        case sequence([ConfigNode])
        case mapping([(key: ConfigNode, value: ConfigNode)])

        public static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case let (.scalar(x, px), .scalar(y, py)): return x == y && px == py
            case let (.sequence(x), .sequence(y)): return x == y
            case let (.mapping(x), .mapping(y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }
        public func hash(into h: inout Hasher) {
            switch self {
            case let .scalar(s, p): h.combine(0); h.combine(s); h.combine(p)
            case let .sequence(items): h.combine(1); h.combine(items)
            case let .mapping(entries): h.combine(2); for e in entries { h.combine(e.key); h.combine(e.value) }
            }
        }
    }

    public let kind: Kind
    public let position: Position
    /// Key path from the document root, e.g. `sinks[0].publishers[2]`.
    public let path: String

    public init(kind: Kind, position: Position, path: String) {
        self.kind = kind
        self.position = position
        self.path = path
    }

    // MARK: Loading

    /// Parses a YAML document. An empty document is an empty mapping.
    public static func parse(yaml text: String, file: String) throws(ConfigErrors) -> ConfigNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigErrors([yamlError(error, file: file)])
        } catch {
            throw ConfigErrors([ConfigError(file: file, line: 1, column: 1, keyPath: "", message: "\(error)")])
        }
        guard let root else {
            return ConfigNode(kind: .mapping([]), position: Position(file: file, line: 1, column: 1), path: "")
        }
        return convert(root, file: file, path: "")
    }

    public static func load(file: String) throws(ConfigErrors) -> ConfigNode {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigErrors([ConfigError(file: file, line: 0, column: 0, keyPath: "",
                                            message: "cannot read file: \(describeIOError(error))")])
        }
        return try parse(yaml: text, file: file)
    }

    private static func describeIOError(_ error: any Error) -> String {
        let ns = "\(error)"
        if ns.contains("NSFileReadNoSuchFileError") || ns.contains("Code=260") || ns.contains("No such file") {
            return "no such file"
        }
        if ns.contains("NSFileReadNoPermissionError") || ns.contains("Code=257") { return "permission denied" }
        if ns.contains("NSFileReadInapplicableStringEncodingError") || ns.contains("Code=261") { return "not valid UTF-8" }
        return ns
    }

    private static func yamlError(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let ctx = context.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            return ConfigError(file: file, line: mark.line, column: mark.column, keyPath: "",
                               message: "invalid YAML: \(problem)\(ctx)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return ConfigError(file: file, line: context.mark.line, column: context.mark.column, keyPath: "",
                               message: "duplicated key(s) \(duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")) in one mapping; each key may appear once")
        case let .reader(problem, offset, _, _):
            return ConfigError(file: file, line: 1, column: 1, keyPath: "",
                               message: "invalid YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            return ConfigError(file: file, line: 1, column: 1, keyPath: "", message: "invalid YAML: \(e)")
        }
    }

    private static func convert(_ node: Node, file: String, path: String) -> ConfigNode {
        let pos = Position(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
        switch node {
        case .scalar(let s):
            return ConfigNode(kind: .scalar(s.string, plain: s.style == .plain || s.style == .any), position: pos, path: path)
        case .sequence(let seq):
            let items = seq.enumerated().map { convert($1, file: file, path: "\(path)[\($0)]") }
            return ConfigNode(kind: .sequence(items), position: pos, path: path)
        case .mapping(let map):
            var entries: [(key: ConfigNode, value: ConfigNode)] = []
            for (k, v) in map {
                let keyText = k.string ?? "?"
                let childPath = path.isEmpty ? keyText : "\(path).\(keyText)"
                entries.append((convert(k, file: file, path: childPath), convert(v, file: file, path: childPath)))
            }
            return ConfigNode(kind: .mapping(entries), position: pos, path: path)
        case .alias:
            return ConfigNode(kind: .scalar("", plain: true), position: pos, path: path)
        }
    }

    // MARK: Typed access

    public var scalar: String? {
        if case .scalar(let s, _) = kind { return s }
        return nil
    }
    public var sequence: [ConfigNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }
    public var mapping: [(key: ConfigNode, value: ConfigNode)]? {
        if case .mapping(let e) = kind { return e }
        return nil
    }
    /// True for a plain (unquoted) `null`, `~` or empty scalar.
    public var isNull: Bool {
        if case .scalar(let s, let plain) = kind, plain { return s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL" }
        return false
    }

    public subscript(key: String) -> ConfigNode? {
        mapping?.first(where: { $0.key.scalar == key })?.value
    }

    /// A short description of the node's type for "expected X, got Y" messages.
    public var kindName: String {
        switch kind {
        case .scalar: return isNull ? "null" : "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// YAML 1.1 booleans as PyYAML reads them (`true`, `True`, `yes`, `on`, …).
    public var bool: Bool? {
        guard case .scalar(let s, let plain) = kind, plain else { return nil }
        switch s {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// The node as a metadata value (scalars typed as PyYAML's safe_load would type them).
    public var value: MetadataValue {
        switch kind {
        case .scalar(let s, let plain):
            guard plain else { return .string(s) }
            if isNull { return .null }
            if let b = bool { return .bool(b) }
            let cleaned = s.replacingOccurrences(of: "_", with: "")
            if cleaned.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) ?? false {
                if !cleaned.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let n = Number(literal: cleaned) {
                    return .number(n)
                }
                if let d = Double(cleaned), cleaned.contains(".") || cleaned.lowercased().contains("e") {
                    return .number(.double(d))
                }
            }
            switch s {
            case ".inf", ".Inf", ".INF", "+.inf": return .number(.double(.infinity))
            case "-.inf", "-.Inf", "-.INF": return .number(.double(-.infinity))
            case ".nan", ".NaN", ".NAN": return .number(.double(.nan))
            default: return .string(s)
            }
        case .sequence(let items):
            return .array(items.map(\.value))
        case .mapping(let entries):
            return .object(MetadataObject(entries.map { ($0.key.scalar ?? "", $0.value.value) }))
        }
    }
}
