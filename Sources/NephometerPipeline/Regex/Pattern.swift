/// A regular expression for `map_from` that cannot be made to take exponential time: parsed into a
/// program for a Pike VM (`PikeVM`), which runs every alternative in lock step — O(input × program)
/// for any pattern, `(.*)*(.*)*…!` included — and still gives Python's leftmost-first matches and
/// groups (there are no back-references, which would need backtracking).
///
/// The syntax is the part of Python's `re` that unit and name mappings use: literals and escapes,
/// `.`, classes (`[a-z_]`, `[^.]`, `\d \w \s` and negations), `^ $ \A \Z \b \B`, groups `( )`,
/// `(?: )`, `(?P<name> )`, alternation, and the greedy and lazy quantifiers `* + ? {n} {n,} {n,m}`.
/// Back-references, look-around and inline flags are refused with a clear error. Hand-written: no
/// package in the mirror offers a non-backtracking engine with Python's semantics.
struct Pattern: Sendable {
    /// Bounds on what a configuration may ask for (documented in docs/transformers.md).
    static let maxLength = 1_000
    static let maxProgram = 20_000
    static let maxRepeat = 1_000

    let source: String
    let program: [Instruction]
    let groupCount: Int
    let groupNames: [String: Int]
    let sets: [CharacterSet]
    /// Registers of unbounded loops (after the capture slots in a thread's state).
    let loopRegisters: Int

    struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        let message: String
        var description: String { "\(message) at position \(offset)" }
    }

    init(_ source: String) throws(SyntaxError) {
        self.source = source
        let scalars = Array(source.unicodeScalars)
        guard scalars.count <= Self.maxLength else {
            throw SyntaxError(offset: Self.maxLength, message: "pattern longer than \(Self.maxLength) characters")
        }
        var parser = PatternParser(scalars)
        let tree = try parser.parse()
        var compiler = PatternCompiler()
        compiler.firstRegister = 2 * (parser.groupCount + 1)
        try compiler.compile(tree)
        program = compiler.program
        sets = compiler.sets
        loopRegisters = compiler.registers
        groupCount = parser.groupCount
        groupNames = parser.groupNames
    }
}

/// A character class: ranges of scalars and the `\d \w \s` classes, possibly negated.
struct CharacterSet: Sendable {
    var ranges: [ClosedRange<UInt32>] = []
    var classes: [(BuiltinClass, Bool)] = []
    var negated = false

    func contains(_ s: Unicode.Scalar) -> Bool {
        var hit = false
        for r in ranges where r.contains(s.value) { hit = true; break }
        if !hit {
            for (c, negatedClass) in classes where c.contains(s) != negatedClass { hit = true; break }
        }
        return hit != negated
    }
}

/// Python's Unicode-aware `\d`, `\w` and `\s`.
enum BuiltinClass: Sendable {
    case digit, word, space

    func contains(_ s: Unicode.Scalar) -> Bool {
        switch self {
        case .digit: return s.properties.numericType == .decimal
        case .word: return s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil
        case .space: return s.properties.isWhitespace || (s.value >= 0x1C && s.value <= 0x1F)
        }
    }
}

enum Assertion: Sendable {
    /// `^` and `\A`.
    case start
    /// `$`: the end, or before a newline that ends the input.
    case end
    /// `\Z`.
    case endOfText
    case wordBoundary
    case notWordBoundary
}

enum Instruction: Sendable {
    case scalar(UInt32)
    /// `.`: anything but a newline.
    case any
    case set(Int)
    /// Try the first target, then the second (priority order).
    case split(Int, Int)
    case jump(Int)
    case save(Int)
    case assert(Assertion)
    /// Records where a loop iteration starts (in a per-thread register).
    case mark(Int)
    /// The end of a loop iteration: back to the loop's head, unless the iteration matched nothing —
    /// then on past the loop, as Python's engine does.
    case loop(register: Int, head: Int, exit: Int)
    case match
}

indirect enum PatternNode {
    case empty
    case scalar(UInt32)
    case any
    case set(CharacterSet)
    case assert(Assertion)
    case group(Int?, PatternNode)
    case concat([PatternNode])
    case alternation([PatternNode])
    case repetition(PatternNode, min: Int, max: Int?, greedy: Bool)
}

struct PatternParser {
    let s: [Unicode.Scalar]
    var i = 0
    var groupCount = 0
    var groupNames: [String: Int] = [:]
    var depth = 0

    init(_ s: [Unicode.Scalar]) { self.s = s }

    func fail(_ m: String, at: Int? = nil) -> Pattern.SyntaxError { Pattern.SyntaxError(offset: at ?? i, message: m) }

    mutating func parse() throws(Pattern.SyntaxError) -> PatternNode {
        let n = try alternation()
        if i < s.count { throw fail(s[i] == ")" ? "unbalanced parenthesis" : "unexpected '\(s[i])'") }
        return n
    }

    mutating func alternation() throws(Pattern.SyntaxError) -> PatternNode {
        var branches = [try concatenation()]
        while i < s.count, s[i] == "|" {
            i += 1
            branches.append(try concatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    mutating func concatenation() throws(Pattern.SyntaxError) -> PatternNode {
        var items: [PatternNode] = []
        while i < s.count, s[i] != "|", s[i] != ")" {
            let atomStart = i
            var atom = try self.atom()
            while i < s.count, let q = try quantifier() {
                if case .assert = atom { throw fail("nothing to repeat", at: atomStart) }
                if case .repetition = atom { throw fail("multiple repeat", at: atomStart) }
                atom = .repetition(atom, min: q.min, max: q.max, greedy: q.greedy)
            }
            items.append(atom)
        }
        return items.isEmpty ? .empty : items.count == 1 ? items[0] : .concat(items)
    }

    mutating func quantifier() throws(Pattern.SyntaxError) -> (min: Int, max: Int?, greedy: Bool)? {
        var q: (min: Int, max: Int?)
        switch s[i] {
        case "*": q = (0, nil); i += 1
        case "+": q = (1, nil); i += 1
        case "?": q = (0, 1); i += 1
        case "{":
            guard let b = try braces() else { return nil }
            q = b
        default: return nil
        }
        var greedy = true
        if i < s.count, s[i] == "?" { greedy = false; i += 1 }
        return (q.min, q.max, greedy)
    }

    /// `{n}`, `{n,}`, `{,m}`, `{n,m}`; anything else is a literal `{` (as in Python).
    mutating func braces() throws(Pattern.SyntaxError) -> (min: Int, max: Int?)? {
        var j = i + 1
        func number(_ j: inout Int) -> Int? {
            var v = 0
            var any = false
            while j < s.count, let d = Int(String(s[j])), s[j].isASCII {
                any = true
                v = v > Pattern.maxRepeat * 10 ? v : v * 10 + d
                j += 1
            }
            return any ? v : nil
        }
        let lo = number(&j)
        var hi: Int?
        var comma = false
        if j < s.count, s[j] == "," { comma = true; j += 1; hi = number(&j) }
        guard j < s.count, s[j] == "}", lo != nil || comma else { return nil }
        let min = lo ?? 0
        let max = comma ? hi : min
        for v in [min, max ?? 0] where v > Pattern.maxRepeat {
            throw fail("repetition count above \(Pattern.maxRepeat)")
        }
        if let max, max < min { throw fail("min repeat greater than max repeat") }
        i = j + 1
        return (min, max)
    }

    mutating func atom() throws(Pattern.SyntaxError) -> PatternNode {
        let c = s[i]
        switch c {
        case "(":
            return try group()
        case "[":
            return .set(try characterClass())
        case ".":
            i += 1
            return .any
        case "^":
            i += 1
            return .assert(.start)
        case "$":
            i += 1
            return .assert(.end)
        case "\\":
            return try escape(inClass: false)
        case "*", "+", "?":
            throw fail("nothing to repeat")
        default:
            i += 1
            return .scalar(c.value)
        }
    }

    mutating func group() throws(Pattern.SyntaxError) -> PatternNode {
        let open = i
        i += 1
        depth += 1
        defer { depth -= 1 }
        guard depth <= 64 else { throw fail("groups nested too deeply", at: open) }
        var index: Int?
        if i < s.count, s[i] == "?" {
            i += 1
            guard i < s.count else { throw fail("unexpected end of pattern") }
            if s[i] == ":" {
                i += 1
            } else if s[i] == "P", i + 1 < s.count, s[i + 1] == "<" {
                i += 2
                var name = ""
                while i < s.count, s[i] != ">" { name.unicodeScalars.append(s[i]); i += 1 }
                guard i < s.count, !name.isEmpty, name.first.map({ $0.isLetter || $0 == "_" }) == true,
                      name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { throw fail("bad group name", at: open) }
                guard groupNames[name] == nil else { throw fail("redefinition of group name '\(name)'", at: open) }
                i += 1
                groupCount += 1
                groupNames[name] = groupCount
                index = groupCount
            } else {
                throw fail("'(?\(s[i])' (look-around, inline flags, back-references) is not supported", at: open)
            }
        } else {
            groupCount += 1
            index = groupCount
        }
        let inner = try alternation()
        guard i < s.count, s[i] == ")" else { throw fail("missing ), unterminated subpattern", at: open) }
        i += 1
        return .group(index, inner)
    }

    mutating func escape(inClass: Bool) throws(Pattern.SyntaxError) -> PatternNode {
        let at = i
        i += 1
        guard i < s.count else { throw fail("bad escape (end of pattern)", at: at) }
        let c = s[i]
        i += 1
        switch c {
        case "d", "D", "w", "W", "s", "S":
            let cls: BuiltinClass = c == "d" || c == "D" ? .digit : c == "w" || c == "W" ? .word : .space
            var set = CharacterSet()
            set.classes = [(cls, c.properties.isUppercase)]
            return .set(set)
        case "n": return .scalar(0x0A)
        case "t": return .scalar(0x09)
        case "r": return .scalar(0x0D)
        case "f": return .scalar(0x0C)
        case "v": return .scalar(0x0B)
        case "a": return .scalar(0x07)
        case "0": return .scalar(0)
        case "A" where !inClass: return .assert(.start)
        case "Z" where !inClass: return .assert(.endOfText)
        case "b" where !inClass: return .assert(.wordBoundary)
        case "b": return .scalar(0x08)
        case "B" where !inClass: return .assert(.notWordBoundary)
        case "x":
            guard i + 2 <= s.count, let v = UInt32(String(String.UnicodeScalarView(s[i..<i + 2])), radix: 16) else {
                throw fail("incomplete escape \\x", at: at)
            }
            i += 2
            return .scalar(v)
        case "1"..."9":
            throw fail("back-references (\\\(c)) are not supported", at: at)
        default:
            if c.isASCII, c.properties.isAlphabetic || c.properties.numericType != nil {
                throw fail("bad escape \\\(c)", at: at)
            }
            return .scalar(c.value)
        }
    }

    mutating func characterClass() throws(Pattern.SyntaxError) -> CharacterSet {
        let open = i
        i += 1
        var set = CharacterSet()
        if i < s.count, s[i] == "^" { set.negated = true; i += 1 }
        var first = true
        while true {
            guard i < s.count else { throw fail("unterminated character set", at: open) }
            if s[i] == "]" && !first { i += 1; break }
            first = false
            let lo: UInt32
            if s[i] == "\\" {
                switch try escape(inClass: true) {
                case .scalar(let v): lo = v
                case .set(let inner): set.classes += inner.classes; continue
                default: throw fail("bad escape in character set")
                }
            } else {
                lo = s[i].value
                i += 1
            }
            if i + 1 < s.count, s[i] == "-", s[i + 1] != "]" {
                i += 1
                let hi: UInt32
                if s[i] == "\\" {
                    guard case .scalar(let v) = try escape(inClass: true) else { throw fail("bad character range") }
                    hi = v
                } else {
                    hi = s[i].value
                    i += 1
                }
                guard lo <= hi else { throw fail("bad character range") }
                set.ranges.append(lo...hi)
            } else {
                set.ranges.append(lo...lo)
            }
        }
        return set
    }
}

struct PatternCompiler {
    var program: [Instruction] = []
    var sets: [CharacterSet] = []
    var firstRegister = 2
    var registers = 0

    mutating func emit(_ inst: Instruction) throws(Pattern.SyntaxError) -> Int {
        guard program.count < Pattern.maxProgram else {
            throw Pattern.SyntaxError(offset: 0, message: "pattern too large once repetitions are expanded (over \(Pattern.maxProgram) steps)")
        }
        program.append(inst)
        return program.count - 1
    }

    mutating func compile(_ root: PatternNode) throws(Pattern.SyntaxError) {
        _ = try emit(.save(0))
        try node(root)
        _ = try emit(.save(1))
        _ = try emit(.match)
    }

    mutating func node(_ n: PatternNode) throws(Pattern.SyntaxError) {
        switch n {
        case .empty: break
        case .scalar(let v): _ = try emit(.scalar(v))
        case .any: _ = try emit(.any)
        case .set(let set):
            sets.append(set)
            _ = try emit(.set(sets.count - 1))
        case .assert(let a): _ = try emit(.assert(a))
        case .group(let index, let inner):
            if let index { _ = try emit(.save(2 * index)) }
            try node(inner)
            if let index { _ = try emit(.save(2 * index + 1)) }
        case .concat(let items):
            for item in items { try node(item) }
        case .alternation(let branches):
            var jumps: [Int] = []
            for (k, b) in branches.enumerated() {
                if k < branches.count - 1 {
                    let split = try emit(.split(0, 0))
                    try node(b)
                    jumps.append(try emit(.jump(0)))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try node(b)
                }
            }
            for j in jumps { program[j] = .jump(program.count) }
        case .repetition(let inner, let min, let max, let greedy):
            for _ in 0..<min { try node(inner) }
            if let max {
                // Optional copies, nested so that each one is only tried after the previous matched.
                var exits: [Int] = []
                for _ in min..<max {
                    let split = try emit(.split(0, 0))
                    exits.append(split)
                    try node(inner)
                }
                for split in exits { program[split] = greedy ? .split(split + 1, program.count) : .split(program.count, split + 1) }
            } else {
                let register = firstRegister + registers
                registers += 1
                let split = try emit(.split(0, 0))
                _ = try emit(.mark(register))
                try node(inner)
                let back = try emit(.loop(register: register, head: split, exit: 0))
                program[back] = .loop(register: register, head: split, exit: program.count)
                program[split] = greedy ? .split(split + 1, program.count) : .split(program.count, split + 1)
            }
        }
    }
}
