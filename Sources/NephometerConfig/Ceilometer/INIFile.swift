import Foundation

/// An oslo.config INI file, read as oslo.config reads it: `[section]` headers, `key = value` (or
/// `key: value`), `#` and `;` comment lines, indented continuation lines, the last value of a key
/// winning. Every value keeps its line and column for errors.
public struct INIFile: Sendable {
    public struct Value: Sendable {
        public let text: String
        public let line: Int
        public let column: Int
    }

    public let file: String
    /// Section → key → value. `DEFAULT` is spelled as in the file.
    public private(set) var sections: [String: [String: Value]] = [:]

    /// The largest file read (Ceilometer's are a few hundred KiB with every comment in place).
    public static let maxBytes = 4 << 20

    public init(file: String) throws(ConfigErrors) {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigErrors([ConfigError(file: file, line: 0, column: 0, keyPath: "", message: "cannot read the file")])
        }
        guard data.count <= Self.maxBytes else {
            throw ConfigErrors([ConfigError(file: file, line: 0, column: 0, keyPath: "", message: "the file has \(data.count) bytes; the limit is \(Self.maxBytes)")])
        }
        try self.init(file: file, text: String(decoding: data, as: UTF8.self))
    }

    public init(file: String, text: String) throws(ConfigErrors) {
        self.file = file
        var section: String?
        var lastKey: (section: String, key: String)?
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = i + 1
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { lastKey = trimmed.isEmpty ? nil : lastKey; continue }
            if line.first == " " || line.first == "\t", let k = lastKey, let prev = sections[k.section]?[k.key] {
                // A continuation line: oslo joins it to the value with a newline.
                sections[k.section]?[k.key] = Value(text: prev.text + "\n" + trimmed, line: prev.line, column: prev.column)
                continue
            }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
                    throw ConfigErrors([ConfigError(file: file, line: lineNo, column: 1, keyPath: "", message: "a section header must look like [name]")])
                }
                let name = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                section = name
                if sections[name] == nil { sections[name] = [:] }
                lastKey = nil
                continue
            }
            guard let sep = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw ConfigErrors([ConfigError(file: file, line: lineNo, column: 1, keyPath: "", message: "expected 'key = value', a [section] or a comment")])
            }
            guard let s = section else {
                throw ConfigErrors([ConfigError(file: file, line: lineNo, column: 1, keyPath: "", message: "a key before any [section]")])
            }
            let key = line[..<sep].trimmingCharacters(in: .whitespaces)
            var valueStart = line.index(after: sep)
            while valueStart < line.endIndex, line[valueStart] == " " || line[valueStart] == "\t" { valueStart = line.index(after: valueStart) }
            var value = String(line[valueStart...]).trimmingCharacters(in: .whitespaces)
            // oslo.config strips one pair of surrounding quotes.
            if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f { value = String(value.dropFirst().dropLast()) }
            let column = line.distance(from: line.startIndex, to: valueStart) + 1
            sections[s, default: [:]][key] = Value(text: value, line: lineNo, column: column)
            lastKey = (s, key)
        }
    }

    public func value(_ section: String, _ key: String) -> Value? {
        if let v = sections[section]?[key] { return v }
        return nil
    }
}
