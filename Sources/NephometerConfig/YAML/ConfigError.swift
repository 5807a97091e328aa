import NephometerCore
/// A problem in a configuration file, with where it is and what was expected.
///
/// Rendered as `file:line:column: key.path: message`, the form compilers use, so editors can jump to it.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    /// Dotted path of the offending key, e.g. `sources[1].meters`.
    public let keyPath: String
    public let message: String

    public init(file: String, line: Int, column: Int, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public init(at node: ConfigNode, _ message: String) {
        self.init(file: node.position.file, line: node.position.line, column: node.position.column,
                  keyPath: node.path, message: message)
    }

    public var description: String {
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(file):\(line):\(column): \(key)\(message)"
    }
}

/// Something accepted but worth telling the operator (e.g. a publisher scheme not implemented yet).
public typealias ConfigWarning = ConfigError

/// All errors found in one pass; validation collects every problem before reporting.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]
    public init(_ errors: [ConfigError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

