import NephometerCore

/// Recursive-descent parser for `Expression`.
struct ExpressionParser {
    enum Token: Equatable {
        case number(Number)
        case string(String)
        case name(String)
        case op(String)
        case end
    }

    let chars: [Character]
    var i = 0
    var token: Token = .end
    var tokenStart = 0
    static let functions: Set<String> = ["min", "max", "abs", "round", "float", "int"]
    static let maxDepth = 64
    /// Bounds on an expression (docs/transformers.md): its length, and its operators and operands, so
    /// no chain of operators makes the evaluator's recursion deep.
    static let maxLength = 4_096
    static let maxNodes = 500
    var depth = 0
    var nodes = 0

    init(_ source: String) { chars = Array(source) }

    func fail(_ m: String, at: Int? = nil) -> Expression.ParseError {
        Expression.ParseError(offset: at ?? tokenStart, message: m)
    }

    mutating func parseAll() throws(Expression.ParseError) -> Expression.Node {
        guard chars.count <= Self.maxLength else { throw fail("expression longer than \(Self.maxLength) characters", at: Self.maxLength) }
        try advance()
        if token == .end { throw fail("empty expression") }
        let n = try orExpr()
        guard token == .end else { throw fail("unexpected \(describe(token))") }
        return n
    }

    func describe(_ t: Token) -> String {
        switch t {
        case .number(let n): return "number \(n.pythonString)"
        case .string(let s): return "string '\(s)'"
        case .name(let s): return "name '\(s)'"
        case .op(let o): return "'\(o)'"
        case .end: return "end of expression"
        }
    }

    mutating func advance() throws(Expression.ParseError) {
        nodes += 1
        guard nodes <= Self.maxNodes else { throw fail("expression has more than \(Self.maxNodes) operators and operands") }
        while i < chars.count, chars[i].isWhitespace { i += 1 }
        tokenStart = i
        guard i < chars.count else { token = .end; return }
        let c = chars[i]
        if c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isNumber) {
            var j = i
            var isFloat = false
            while j < chars.count, chars[j].isNumber || chars[j] == "_" { j += 1 }
            if j < chars.count, chars[j] == "." { isFloat = true; j += 1; while j < chars.count, chars[j].isNumber { j += 1 } }
            if j < chars.count, chars[j] == "e" || chars[j] == "E" {
                var k = j + 1
                if k < chars.count, chars[k] == "+" || chars[k] == "-" { k += 1 }
                if k < chars.count, chars[k].isNumber {
                    isFloat = true
                    j = k
                    while j < chars.count, chars[j].isNumber { j += 1 }
                }
            }
            let text = String(chars[i..<j]).replacingOccurrences(of: "_", with: "")
            guard let n = Number(literal: isFloat ? text : text) else { throw fail("bad number '\(text)'") }
            token = .number(isFloat ? .double(n.doubleValue) : n)
            i = j
            return
        }
        if c.isLetter || c == "_" {
            var j = i
            while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
            token = .name(String(chars[i..<j]))
            i = j
            return
        }
        if c == "'" || c == "\"" {
            var j = i + 1
            var s = ""
            while j < chars.count, chars[j] != c {
                if chars[j] == "\\", j + 1 < chars.count { j += 1 }
                s.append(chars[j])
                j += 1
            }
            guard j < chars.count else { throw fail("unterminated string") }
            token = .string(s)
            i = j + 1
            return
        }
        for op in ["**", "//", "==", "!=", "<=", ">="] where i + 1 < chars.count && String(chars[i...i + 1]) == op {
            token = .op(op)
            i += 2
            return
        }
        if "+-*/%().,<>".contains(c) {
            token = .op(String(c))
            i += 1
            return
        }
        throw fail("unexpected character '\(c)'", at: i)
    }

    mutating func expect(_ op: String) throws(Expression.ParseError) {
        guard token == .op(op) else { throw fail("expected '\(op)', got \(describe(token))") }
        try advance()
    }

    mutating func nested<T>(_ body: (inout ExpressionParser) throws(Expression.ParseError) -> T) throws(Expression.ParseError) -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth < Self.maxDepth else { throw fail("expression nested too deeply") }
        return try body(&self)
    }

    mutating func orExpr() throws(Expression.ParseError) -> Expression.Node {
        var l = try andExpr()
        while token == .name("or") { try advance(); l = .binary("or", l, try andExpr()) }
        return l
    }

    mutating func andExpr() throws(Expression.ParseError) -> Expression.Node {
        var l = try notExpr()
        while token == .name("and") { try advance(); l = .binary("and", l, try notExpr()) }
        return l
    }

    mutating func notExpr() throws(Expression.ParseError) -> Expression.Node {
        if token == .name("not") {
            try advance()
            return .unary("not", try nested { (p: inout ExpressionParser) throws(Expression.ParseError) in try p.notExpr() })
        }
        return try comparison()
    }

    mutating func comparison() throws(Expression.ParseError) -> Expression.Node {
        var l = try additive()
        while case .op(let o) = token, ["==", "!=", "<", "<=", ">", ">="].contains(o) {
            try advance()
            l = .binary(o, l, try additive())
        }
        return l
    }

    mutating func additive() throws(Expression.ParseError) -> Expression.Node {
        var l = try multiplicative()
        while case .op(let o) = token, o == "+" || o == "-" {
            try advance()
            l = .binary(o, l, try multiplicative())
        }
        return l
    }

    mutating func multiplicative() throws(Expression.ParseError) -> Expression.Node {
        var l = try unary()
        while case .op(let o) = token, o == "*" || o == "/" || o == "//" || o == "%" {
            try advance()
            l = .binary(o, l, try unary())
        }
        return l
    }

    mutating func unary() throws(Expression.ParseError) -> Expression.Node {
        if case .op(let o) = token, o == "-" || o == "+" {
            try advance()
            let operand = try nested { (p: inout ExpressionParser) throws(Expression.ParseError) in try p.unary() }
            if o == "-", case .number(let n) = operand { return .number(Arithmetic.negate(n)) }
            return .unary(o, operand)
        }
        return try power()
    }

    mutating func power() throws(Expression.ParseError) -> Expression.Node {
        let base = try atom()
        if token == .op("**") {
            try advance()
            // Right-associative, and binds tighter than a unary minus on its left: -2**2 == -4.
            return .binary("**", base, try nested { (p: inout ExpressionParser) throws(Expression.ParseError) in try p.unary() })
        }
        return base
    }

    mutating func atom() throws(Expression.ParseError) -> Expression.Node {
        switch token {
        case .number(let n):
            try advance()
            return .number(n)
        case .string(let s):
            try advance()
            return .string(s)
        case .op("("):
            try advance()
            let e = try nested { (p: inout ExpressionParser) throws(Expression.ParseError) in try p.orExpr() }
            try expect(")")
            return e
        case .name(let n):
            if ["or", "and", "not"].contains(n) { throw fail("unexpected '\(n)'") }
            try advance()
            if token == .op("(") {
                guard Self.functions.contains(n) else {
                    throw fail("unknown function '\(n)' (allowed: \(Self.functions.sorted().joined(separator: ", ")))")
                }
                try advance()
                var args: [Expression.Node] = []
                if token != .op(")") {
                    args.append(try nested { (p: inout ExpressionParser) throws(Expression.ParseError) in try p.orExpr() })
                    while token == .op(",") {
                        try advance()
                        args.append(try nested { (p: inout ExpressionParser) throws(Expression.ParseError) in try p.orExpr() })
                    }
                }
                try expect(")")
                return .call(n, args)
            }
            if n == "None" { return .path(["None"]) }
            if n == "True" { return .number(.int(1)) }
            if n == "False" { return .number(.int(0)) }
            var path = [n]
            while token == .op(".") {
                try advance()
                guard case .name(let attr) = token else { throw fail("expected an attribute name after '.'") }
                path.append(attr)
                try advance()
            }
            return .path(path)
        default:
            throw fail("unexpected \(describe(token))")
        }
    }
}
