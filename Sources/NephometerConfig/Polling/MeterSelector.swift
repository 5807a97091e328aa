/// A list of meter patterns as polling.yaml and pipeline.yaml write them: shell globs, `!` for
/// exclusions, deny before allow, and exclusions only meaning "everything but".
public struct MeterSelector: Sendable, Hashable {
    public let patterns: [String]
    private let includes: [Glob]
    private let excludes: [Glob]

    public init(_ patterns: [String]) {
        self.patterns = patterns
        includes = patterns.filter { !$0.hasPrefix("!") }.map(Glob.init)
        excludes = patterns.filter { $0.hasPrefix("!") }.map { Glob(String($0.dropFirst())) }
    }

    /// Ceilometer's `is_supported`.
    public func matches(_ name: String) -> Bool {
        if excludes.contains(where: { $0.matches(name) }) { return false }
        if includes.contains(where: { $0.matches(name) }) { return true }
        return includes.isEmpty
    }

    /// Ceilometer's `check_source_filtering` rules, as messages (nil when valid). Entries are classified by
    /// their first character as Ceilometer does, so `*.bytes` counts as a wildcard entry.
    public static func problem(with patterns: [String], kind: String = "meters") -> String? {
        if patterns.isEmpty { return "No \(kind) specified (expected a non-empty list of names or patterns)" }
        if patterns.contains("") { return "empty \(kind) name in the list" }
        let plainIncludes = patterns.filter { !$0.hasPrefix("!") && !$0.hasPrefix("*") }
        let excludes = patterns.filter { $0.hasPrefix("!") }
        if !plainIncludes.isEmpty && !excludes.isEmpty {
            return "Both included and excluded \(kind) specified (expected either names to include, or '!'-prefixed names to exclude from everything, or \"*\" with exclusions; got \(plainIncludes.map { "'\($0)'" }.joined(separator: ", ")) with \(excludes.map { "'\($0)'" }.joined(separator: ", ")))"
        }
        if patterns.contains("*") && !plainIncludes.isEmpty {
            return "Included \(kind) specified with wildcard (\"*\" already includes \(plainIncludes.map { "'\($0)'" }.joined(separator: ", ")); remove them or remove \"*\")"
        }
        return nil
    }
}

/// Python `fnmatch` semantics: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive, no backslash escapes.
public struct Glob: Sendable, Hashable {
    private enum Token: Sendable, Hashable {
        case literal(Character)
        case any
        case star
        case set([ClosedRange<Character>], negated: Bool)
    }
    public let pattern: String
    private let tokens: [Token]
    private let isLiteral: Bool

    public init(_ pattern: String) {
        self.pattern = pattern
        var tokens: [Token] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            i += 1
            switch c {
            case "*":
                if tokens.last != .star { tokens.append(.star) }
            case "?":
                tokens.append(.any)
            case "[":
                var j = i
                if j < chars.count, chars[j] == "!" { j += 1 }
                if j < chars.count, chars[j] == "]" { j += 1 }
                while j < chars.count, chars[j] != "]" { j += 1 }
                if j >= chars.count {
                    tokens.append(.literal("["))
                    continue
                }
                var body = Array(chars[i..<j])
                i = j + 1
                var negated = false
                if body.first == "!" { negated = true; body.removeFirst() }
                var ranges: [ClosedRange<Character>] = []
                var k = 0
                while k < body.count {
                    if k + 2 < body.count, body[k + 1] == "-" {
                        if body[k] <= body[k + 2] { ranges.append(body[k]...body[k + 2]) }
                        k += 3
                    } else {
                        ranges.append(body[k]...body[k])
                        k += 1
                    }
                }
                tokens.append(.set(ranges, negated: negated))
            default:
                tokens.append(.literal(c))
            }
        }
        self.tokens = tokens
        isLiteral = tokens.allSatisfy { if case .literal = $0 { return true } else { return false } }
    }

    public func matches(_ text: String) -> Bool {
        if isLiteral { return text == pattern }
        return match(Array(text), 0, 0)
    }

    private func match(_ s: [Character], _ si: Int, _ ti: Int) -> Bool {
        var si = si, ti = ti
        var starT = -1, starS = -1
        while si < s.count {
            if ti < tokens.count {
                switch tokens[ti] {
                case .star:
                    starT = ti; starS = si; ti += 1
                    continue
                case .any:
                    si += 1; ti += 1
                    continue
                case .literal(let c) where c == s[si]:
                    si += 1; ti += 1
                    continue
                case .set(let ranges, let negated) where ranges.contains(where: { $0.contains(s[si]) }) != negated:
                    si += 1; ti += 1
                    continue
                default:
                    break
                }
            }
            guard starT >= 0 else { return false }
            ti = starT + 1
            starS += 1
            si = starS
        }
        while ti < tokens.count, tokens[ti] == .star { ti += 1 }
        return ti == tokens.count
    }
}
