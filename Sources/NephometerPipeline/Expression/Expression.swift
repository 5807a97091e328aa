import Foundation
import NephometerCore

/// A small, safe arithmetic expression language for transformer parameters (`scale`, `expr`).
///
/// Parsed once when the pipeline loads and evaluated per sample; never executed as code. Grammar (Python
/// precedence): `or` < `and` < `not` < comparisons < `+ -` < `* / // %` < unary `- +` < `**` < atoms.
/// Atoms: numbers, parenthesised expressions, names with dotted attribute access (`volume`,
/// `resource_metadata.cpu_number`, `$(cpu).resource_metadata.x`), string literals, and the functions
/// `min`, `max`, `abs`, `round`, `float`, `int`. A missing attribute is falsy, so
/// `resource_metadata.cpu_number or 1` works as in Ceilometer.
public struct Expression: Sendable, Hashable, CustomStringConvertible {
    public let source: String
    let root: Node
    let program: ExpressionProgram

    indirect enum Node: Sendable, Hashable {
        case number(Number)
        case string(String)
        case path([String])
        case unary(String, Node)
        case binary(String, Node, Node)
        case call(String, [Node])
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let offset: Int
        public let message: String
        public var description: String { "\(message) at character \(offset + 1)" }
    }

    public var description: String { source }

    public init(_ source: String) throws(ParseError) {
        self.source = source
        var p = ExpressionParser(source)
        let tree = try p.parseAll()
        root = Self.fold(tree)
        // A wholly constant expression that cannot be evaluated fails every sample: that is an error
        // in the configuration. (A constant part of a larger one may never run: `x or (1/0)`.)
        if Self.isConstant(root) {
            do { _ = try Self.eval(root, NoScope()) } catch {
                throw ParseError(offset: 0, message: "the expression cannot be evaluated: \(error)")
            }
        }
        if let problem = Self.badConstantArgument(root) { throw ParseError(offset: 0, message: problem) }
        program = ExpressionProgram(root)
    }

    /// A call whose constant argument can never be right (`round(volume, 1e30)`: ndigits must be an
    /// integer), found when the expression loads rather than on every sample.
    static func badConstantArgument(_ n: Node) -> String? {
        switch n {
        case .call(let f, let args):
            if f == "round", args.count == 2, case .number(let digits) = args[1], !digits.isInteger {
                return "round() ndigits must be an integer, got \(digits.pythonString)"
            }
            for a in args { if let p = badConstantArgument(a) { return p } }
            return nil
        case .unary(_, let a): return badConstantArgument(a)
        case .binary(_, let a, let b): return badConstantArgument(a) ?? badConstantArgument(b)
        default: return nil
        }
    }

    static func isConstant(_ n: Node) -> Bool {
        switch n {
        case .number, .string: return true
        case .path: return false
        case .unary(_, let a): return isConstant(a)
        case .binary(_, let a, let b): return isConstant(a) && isConstant(b)
        case .call(_, let args): return args.allSatisfy(isConstant)
        }
    }

    /// Evaluates constant subexpressions once, at load time (`10**9` in a scale).
    static func fold(_ n: Node) -> Node {
        let folded: Node
        switch n {
        case .unary(let op, let a): folded = .unary(op, fold(a))
        case .binary(let op, let a, let b): folded = .binary(op, fold(a), fold(b))
        case .call(let f, let args): folded = .call(f, args.map(fold))
        default: return n
        }
        guard isConstant(folded), case .number(let v)? = try? eval(folded, NoScope()) else { return folded }
        return .number(v)
    }

    /// Names referenced at the root of paths (e.g. `volume`, `resource_metadata`).
    public var rootNames: Set<String> {
        var out: Set<String> = []
        func walk(_ n: Node) {
            switch n {
            case .path(let p): if let f = p.first { out.insert(f) }
            case .unary(_, let a): walk(a)
            case .binary(_, let a, let b): walk(a); walk(b)
            case .call(_, let args): args.forEach(walk)
            default: break
            }
        }
        walk(root)
        return out
    }

    /// Evaluates with `lookup` resolving dotted paths. Throws on type errors and division by zero.
    public func evaluate(_ lookup: (ArraySlice<String>) -> ExpressionValue) throws(EvaluationError) -> ExpressionValue {
        try withoutActuallyEscaping(lookup) { (l) throws(EvaluationError) -> ExpressionValue in try program.run(ClosureScope(lookup: l)) }
    }

    /// Evaluates in `scope`, which resolves dotted paths.
    public func evaluate<S: ExpressionScope>(in scope: S) throws(EvaluationError) -> ExpressionValue {
        try program.run(scope)
    }

    /// Evaluates by walking the syntax tree: the reference semantics the compiled program is tested against.
    func evaluateByTree<S: ExpressionScope>(in scope: S) throws(EvaluationError) -> ExpressionValue {
        try Self.eval(root, scope)
    }

    /// Evaluates to a number, or throws when the result is not numeric.
    public func number(_ lookup: (ArraySlice<String>) -> ExpressionValue) throws(EvaluationError) -> Number {
        try Self.numeric(try evaluate(lookup))
    }

    public func number<S: ExpressionScope>(in scope: S) throws(EvaluationError) -> Number {
        try Self.numeric(try program.run(scope))
    }

    static func numeric(_ v: ExpressionValue) throws(EvaluationError) -> Number {
        guard case .number(let n) = v else { throw EvaluationError("result is \(v.typeName), not a number") }
        return n
    }

    public struct EvaluationError: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    static func eval<S: ExpressionScope>(_ n: Node, _ scope: S) throws(EvaluationError) -> ExpressionValue {
        switch n {
        case .number(let v): return .number(v)
        case .string(let s): return .string(s)
        case .path(let p): return scope.lookup(p[...])
        case .unary(let op, let a):
            let v = try eval(a, scope)
            switch op {
            case "not": return .bool(!v.truthy)
            case "-":
                guard case .number(let x) = v else { throw EvaluationError("cannot negate \(v.typeName)") }
                return .number(Arithmetic.negate(x))
            default:
                guard case .number = v else { throw EvaluationError("unary + on \(v.typeName)") }
                return v
            }
        case .binary(let op, let a, let b):
            if op == "or" {
                let l = try eval(a, scope)
                return l.truthy ? l : try eval(b, scope)
            }
            if op == "and" {
                let l = try eval(a, scope)
                return l.truthy ? try eval(b, scope) : l
            }
            let l = try eval(a, scope), r = try eval(b, scope)
            if ["==", "!=", "<", "<=", ">", ">="].contains(op) { return .bool(try compare(op, l, r)) }
            guard case .number(let x) = l, case .number(let y) = r else {
                throw EvaluationError("unsupported operand types for \(op): \(l.typeName) and \(r.typeName)")
            }
            return .number(try Arithmetic.apply(op, x, y))
        case .call(let f, let args):
            let vals = try args.map { (a: Node) throws(EvaluationError) -> ExpressionValue in try eval(a, scope) }
            let nums = try vals.map { (v: ExpressionValue) throws(EvaluationError) -> Number in
                guard case .number(let x) = v else { throw EvaluationError("\(f)() needs numbers, got \(v.typeName)") }
                return x
            }
            switch f {
            case "min", "max":
                guard let first = nums.first else { throw EvaluationError("\(f)() needs at least one argument") }
                return .number(nums.dropFirst().reduce(first) { acc, x in
                    (f == "min" ? x.doubleValue < acc.doubleValue : x.doubleValue > acc.doubleValue) ? x : acc
                })
            case "abs":
                guard nums.count == 1 else { throw EvaluationError("abs() takes one argument") }
                return .number(nums[0].doubleValue < 0 ? Arithmetic.negate(nums[0]) : nums[0])
            case "float":
                guard nums.count == 1 else { throw EvaluationError("float() takes one argument") }
                return .number(.double(nums[0].doubleValue))
            case "int":
                guard nums.count == 1 else { throw EvaluationError("int() takes one argument") }
                let d = nums[0].doubleValue.rounded(.towardZero)
                guard d.isFinite, abs(d) < 9.2e18 else { throw EvaluationError("int() of \(nums[0].pythonString)") }
                return .number(.int(Int64(d)))
            case "round":
                guard nums.count == 1 || nums.count == 2 else { throw EvaluationError("round() takes one or two arguments") }
                if nums.count == 2 {
                    // Python: ndigits must be an integer; beyond what a double can show, x is unchanged
                    // (or 0 for very negative ndigits).
                    guard case .int(let n) = nums[1] else { throw EvaluationError("round() ndigits must be an integer, got \(nums[1].pythonString)") }
                    let x = nums[0].doubleValue
                    guard x.isFinite, n < 309 else { return .number(.double(x)) }
                    guard n > -309 else { return .number(.double(0 * x)) }
                    let p = pow10(Int(n))
                    let scaled = x * p
                    guard scaled.isFinite, p.isFinite, p > 0 else { return .number(.double(x)) }
                    return .number(.double(scaled.rounded(.toNearestOrEven) / p))
                }
                let d = nums[0].doubleValue.rounded(.toNearestOrEven)
                guard d.isFinite, abs(d) < 9.2e18 else { throw EvaluationError("round() of \(nums[0].pythonString)") }
                return .number(.int(Int64(d)))
            default:
                throw EvaluationError("unknown function \(f)()")
            }
        }
    }

    /// 10ⁿ for |n| ≤ 308 (no loop whose length comes from the expression).
    static func pow10(_ n: Int) -> Double {
        let m = Swift.min(308, Swift.max(-308, n))
        return m < 0 ? 1 / Foundation.pow(10, Double(-m)) : Foundation.pow(10, Double(m))
    }

    static func compare(_ op: String, _ l: ExpressionValue, _ r: ExpressionValue) throws(EvaluationError) -> Bool {
        if case .number(let x) = l, case .number(let y) = r {
            let a = x.doubleValue, b = y.doubleValue
            switch op {
            case "==": return a == b
            case "!=": return a != b
            case "<": return a < b
            case "<=": return a <= b
            case ">": return a > b
            default: return a >= b
            }
        }
        if case .string(let a) = l, case .string(let b) = r {
            switch op {
            case "==": return a == b
            case "!=": return a != b
            case "<": return a < b
            case "<=": return a <= b
            case ">": return a > b
            default: return a >= b
            }
        }
        if op == "==" { return l == r }
        if op == "!=" { return l != r }
        throw EvaluationError("cannot compare \(l.typeName) and \(r.typeName) with \(op)")
    }
}

/// Resolves the dotted names of an expression (`volume`, `resource_metadata.cpu_number`).
public protocol ExpressionScope {
    func lookup(_ path: ArraySlice<String>) -> ExpressionValue
    /// The same lookup with the path's root classified at compile time (has a default).
    func lookup(resolved path: ResolvedPath) -> ExpressionValue
}

struct ClosureScope: ExpressionScope {
    let lookup: (ArraySlice<String>) -> ExpressionValue
    func lookup(_ path: ArraySlice<String>) -> ExpressionValue { lookup(path) }
}

struct NoScope: ExpressionScope {
    func lookup(_ path: ArraySlice<String>) -> ExpressionValue { .missing }
}

/// A value during expression evaluation.
public enum ExpressionValue: Sendable, Hashable {
    case number(Number)
    case string(String)
    case bool(Bool)
    /// None, or a missing attribute (falsy, like Ceilometer's empty Namespace).
    case missing
    /// A nested map (an attribute path that stops at a dict).
    case object(MetadataObject)

    public var truthy: Bool {
        switch self {
        case .number(let n): return n.doubleValue != 0
        case .string(let s): return !s.isEmpty
        case .bool(let b): return b
        case .missing: return false
        case .object(let o): return !o.isEmpty
        }
    }

    var typeName: String {
        switch self {
        case .number: return "a number"
        case .string: return "a string"
        case .bool: return "a boolean"
        case .missing: return "a missing value"
        case .object: return "a mapping"
        }
    }

    /// Resolves a path inside a metadata object (`cpu_number` of `resource_metadata`).
    public static func from(_ object: MetadataObject, path: ArraySlice<String>) -> ExpressionValue {
        guard let first = path.first else { return .object(object) }
        return from(object[first], path: path.dropFirst())
    }

    /// Resolves the rest of a path inside a metadata value.
    public static func from(_ value: MetadataValue?, path: ArraySlice<String>) -> ExpressionValue {
        var cur = value
        for key in path {
            guard case .object(let o)? = cur else { return .missing }
            cur = o[key]
        }
        switch cur {
        case nil, .null?: return .missing
        case .bool(let b)?: return .bool(b)
        case .number(let n)?: return .number(n)
        case .string(let s)?: return .string(s)
        case .object(let o)?: return .object(o)
        case .array(let a)?: return a.isEmpty ? .missing : .string("\(a.count) items")
        case .bytes(let b)?: return .string(String(decoding: b, as: UTF8.self))
        }
    }
}
