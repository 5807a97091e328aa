import Foundation
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

    /// What a configuration file may cost, far above any real cloud's files (Ceilometer's largest
    /// shipped ones are a few KiB; 10 000 static resources are about 600 KiB). Documented in README.
    public enum Limits {
        public static let fileBytes = 8 << 20
        /// Nodes after alias expansion (a "billion laughs" of a few hundred bytes stops here).
        public static let nodes = 200_000
        public static let depth = 64
        public static let scalarBytes = 1 << 20
        /// All scalars together, after alias expansion.
        public static let totalScalarBytes = 64 << 20
    }

    /// Parses a YAML document. An empty document is an empty mapping.
    public static func parse(yaml text: String, file: String) throws(ConfigErrors) -> ConfigNode {
        guard text.utf8.count <= Limits.fileBytes else {
            throw ConfigErrors([ConfigError(file: file, line: 1, column: 1, keyPath: "",
                                            message: "the file is larger than \(Limits.fileBytes >> 20) MiB, the most a configuration file may be")])
        }
        if let deep = NestingScan.firstTooDeep(text, limit: Limits.depth) {
            throw ConfigErrors([ConfigError(file: file, line: deep.line, column: deep.column, keyPath: "",
                                            message: "nested more than \(Limits.depth) levels deep, the most a configuration may be")])
        }
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
        var budget = Budget()
        return try convert(root, file: file, path: "", &budget)
    }

    /// Reads and parses a configuration file; only regular files of at most `Limits.fileBytes`.
    public static func load(file: String) throws(ConfigErrors) -> ConfigNode {
        func fail(_ m: String) -> ConfigErrors {
            ConfigErrors([ConfigError(file: file, line: 0, column: 0, keyPath: "", message: m)])
        }
        var st = stat()
        guard stat(file, &st) == 0 else {
            throw fail(errno == ENOENT ? "cannot read file: no such file" : errno == EACCES ? "cannot read file: permission denied" : "cannot read file: \(String(cString: strerror(errno)))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw fail("is a directory, not a configuration file")
        default: throw fail("is not a regular file (a device, FIFO or socket); give a YAML file")
        }
        guard Int(st.st_size) <= Limits.fileBytes else {
            throw fail("the file is \(st.st_size) bytes, larger than \(Limits.fileBytes >> 20) MiB, the most a configuration file may be")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw fail(access(file, R_OK) != 0 ? "cannot read file: permission denied" : "cannot read file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("cannot read file: not valid UTF-8") }
        return try parse(yaml: text, file: file)
    }

    /// Counts what a document expands to while it is converted.
    struct Budget {
        var nodes = 0
        var scalarBytes = 0
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

    private static func convert(_ node: Node, file: String, path: String, _ budget: inout Budget) throws(ConfigErrors) -> ConfigNode {
        let pos = Position(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
        budget.nodes += 1
        guard budget.nodes <= Limits.nodes else {
            throw ConfigErrors([ConfigError(file: file, line: pos.line, column: pos.column, keyPath: path,
                                            message: "the document expands to more than \(Limits.nodes) nodes (aliases repeating anchors?), the most a configuration may have")])
        }
        switch node {
        case .scalar(let s):
            let n = s.string.utf8.count
            budget.scalarBytes += n
            guard n <= Limits.scalarBytes, budget.scalarBytes <= Limits.totalScalarBytes else {
                throw ConfigErrors([ConfigError(file: file, line: pos.line, column: pos.column, keyPath: path,
                                                message: n > Limits.scalarBytes ? "a value longer than \(Limits.scalarBytes >> 20) MiB"
                                                    : "the document's values expand to more than \(Limits.totalScalarBytes >> 20) MiB (aliases?)")])
            }
            return ConfigNode(kind: .scalar(s.string, plain: s.style == .plain || s.style == .any), position: pos, path: path)
        case .sequence(let seq):
            var items: [ConfigNode] = []
            items.reserveCapacity(seq.count)
            for (i, item) in seq.enumerated() { items.append(try convert(item, file: file, path: "\(path)[\(i)]", &budget)) }
            return ConfigNode(kind: .sequence(items), position: pos, path: path)
        case .mapping(let map):
            var entries: [(key: ConfigNode, value: ConfigNode)] = []
            for (k, v) in map {
                let keyText = k.string.map { String($0.prefix(200)) } ?? "?"
                let childPath = path.isEmpty ? keyText : "\(path).\(keyText)"
                entries.append((try convert(k, file: file, path: childPath, &budget), try convert(v, file: file, path: childPath, &budget)))
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

/// A conservative estimate of how deeply a YAML text nests, made before it is parsed (Yams builds its
/// node tree recursively: ten thousand `[` would exhaust its stack). Counts open flow brackets outside
/// quotes and comments plus block indentation levels, so it may overstate, never understate.
enum NestingScan {
    static func firstTooDeep(_ text: String, limit: Int) -> (line: Int, column: Int)? {
        var indents: [Int] = []
        var flow = 0
        var quote: UInt8 = 0
        var line = 1
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            defer { line += 1 }
            let bytes = Array(raw.utf8)
            var col = 0
            var dashes = 0
            if quote == 0 && flow == 0 {
                // Indentation, and "- " entries that open a sequence each ("- - x" is two levels).
                while col < bytes.count, bytes[col] == 0x20 || bytes[col] == 0x2D && (col + 1 == bytes.count || bytes[col + 1] == 0x20) {
                    if bytes[col] == 0x2D { dashes += 1 }
                    col += 1
                }
                guard col < bytes.count, bytes[col] != 0x23 else { continue }
                while let last = indents.last, last >= col { indents.removeLast() }
                indents.append(col)
                if indents.count + dashes > limit { return (line, col + 1) }
            }
            var k = col
            scan: while k < bytes.count {
                let b = bytes[k]
                if quote != 0 {
                    if b == quote { quote = 0 }
                } else {
                    switch b {
                    case 0x22, 0x27: quote = b
                    case 0x23 where k == 0 || bytes[k - 1] == 0x20 || bytes[k - 1] == 0x09: break scan
                    case 0x5B, 0x7B:
                        flow += 1
                        if indents.count + dashes + flow > limit { return (line, k + 1) }
                    case 0x5D, 0x7D: flow = max(0, flow - 1)
                    default: break
                    }
                }
                k += 1
            }
        }
        return nil
    }
}
