import NephometerCore
@testable import NephometerPipeline
import PropertyBased
import Testing

/// The compiled stack-machine program evaluates every expression exactly as the syntax-tree walker
/// (the reference semantics): same value, or the same error.
@Suite struct ExpressionProgramTests {
    struct Scope: ExpressionScope {
        func lookup(_ path: ArraySlice<String>) -> ExpressionValue {
            switch path.joined(separator: ".") {
            case "x": return .number(.int(3))
            case "f": return .number(.double(-2.5))
            case "s": return .string("ab")
            case "resource_metadata.n": return .number(.int(0))
            default: return .missing
            }
        }
    }

    static let atoms = ["0", "1", "2", "-3", "2.5", "10**9", "'ab'", "''", "x", "f", "s", "m", "None",
                        "resource_metadata.n", "resource_metadata.cpu_number"]
    static let binary = ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "or", "and"]
    static let unary = ["not ", "-", "+"]
    static let calls = ["min", "max", "abs", "round", "int", "float"]

    /// A random expression from the grammar, steered by `seed`.
    static func text(_ seed: [Int]) -> String {
        var it = seed.makeIterator()
        func next() -> Int { abs(it.next() ?? 0) }
        func build(_ depth: Int) -> String {
            let n = next()
            if depth > 4 || n % 4 == 0 { return atoms[next() % atoms.count] }
            switch n % 4 {
            case 1: return "(\(build(depth + 1)) \(binary[next() % binary.count]) \(build(depth + 1)))"
            case 2: return "(\(unary[next() % unary.count])\(build(depth + 1)))"
            default:
                let f = calls[next() % calls.count]
                let args = (0..<(f == "min" || f == "max" ? 1 + next() % 3 : 1)).map { _ in build(depth + 1) }
                return "\(f)(\(args.joined(separator: ", ")))"
            }
        }
        return build(0)
    }

    static func outcome(_ body: () throws(Expression.EvaluationError) -> ExpressionValue) -> String {
        do { return "value \(try body())" } catch { return "error \(error)" }
    }

    @Test func compiledEqualsTree() async {
        await propertyCheck(count: 2000, input: Gen.int(in: 0...10_000).array(of: 1...60)) { seed in
            let source = Self.text(seed)
            guard let e = try? Expression(source) else { return }
            let compiled = Self.outcome { () throws(Expression.EvaluationError) in try e.evaluate(in: Scope()) }
            let tree = Self.outcome { () throws(Expression.EvaluationError) in try e.evaluateByTree(in: Scope()) }
            #expect(compiled == tree, "\(source)")
        }
    }

    @Test func shortCircuitAndErrors() throws {
        // `or` keeps its left operand when truthy and never evaluates the right (which would throw).
        #expect(try Expression("x or (1 / 0)").evaluate(in: Scope()) == .number(.int(3)))
        #expect(try Expression("m and (1 / 0)").evaluate(in: Scope()) == .missing)
        #expect(try Expression("m or 'd'").evaluate(in: Scope()) == .string("d"))
        #expect(throws: Expression.EvaluationError.self) { try Expression("s + 1").evaluate(in: Scope()) }
        #expect(throws: Expression.EvaluationError.self) { try Expression("-s").evaluate(in: Scope()) }
        #expect(throws: Expression.EvaluationError.self) { try Expression("min(s)").evaluate(in: Scope()) }
        // Deep nesting stays within the computed stack depth.
        let deep = String(repeating: "(1 + ", count: 30) + "x" + String(repeating: ")", count: 30)
        #expect(try Expression(deep).evaluate(in: Scope()) == .number(.int(33)))
    }
}
