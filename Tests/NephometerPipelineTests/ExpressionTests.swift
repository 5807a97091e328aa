import NephometerCore
import NephometerPipeline
import PropertyBased
import Testing

@Suite struct ExpressionTests {
    func eval(_ text: String, _ vars: [String: ExpressionValue] = [:]) throws -> ExpressionValue {
        try Expression(text).evaluate { path in vars[path.joined(separator: ".")] ?? .missing }
    }

    @Test func pythonArithmetic() throws {
        #expect(try eval("1 + 2 * 3") == .number(.int(7)))
        #expect(try eval("7 / 2") == .number(.double(3.5)))
        #expect(try eval("7 // 2") == .number(.int(3)))
        #expect(try eval("-7 // 2") == .number(.int(-4)))
        #expect(try eval("-7 % 3") == .number(.int(2)))
        #expect(try eval("2 ** 10") == .number(.int(1024)))
        #expect(try eval("2 ** -1") == .number(.double(0.5)))
        #expect(try eval("-2 ** 2") == .number(.int(-4)))
        #expect(try eval("2 ** 3 ** 2") == .number(.int(512)))
        #expect(try eval("(1 + 2) * 3") == .number(.int(9)))
        #expect(try eval("10**9") == .number(.int(1_000_000_000)))
        #expect(try eval("100.0 / (10**9 * (x or 1))") == .number(.double(1e-7)))
        #expect(try eval("100.0 / (10**9 * (x or 1))", ["x": .number(.int(4))]) == .number(.double(2.5e-8)))
        #expect(try eval("max(1, 5, 3) + min(2.5, 4) + abs(-2) + round(2.5) + int(3.9)") == .number(.double(14.5)))
        #expect(try eval("9223372036854775807 + 1") == .number(.double(9223372036854775808.0)))
    }

    @Test func errorsAreThrownNotCrashed() {
        // A constant expression that cannot be evaluated is refused when the pipeline loads.
        #expect(throws: Expression.ParseError.self) { try eval("1 / 0") }
        #expect(throws: Expression.ParseError.self) { try eval("1 % 0") }
        #expect(throws: Expression.EvaluationError.self) { try eval("1 / x", ["x": .number(.int(0))]) }
        #expect(throws: Expression.EvaluationError.self) { try eval("x + 1", ["x": .string("a")]) }
        #expect(throws: Expression.ParseError.self) { try Expression("") }
        #expect(throws: Expression.ParseError.self) { try Expression("1 +") }
        #expect(throws: Expression.ParseError.self) { try Expression("__import__('os')") }
        #expect(throws: Expression.ParseError.self) { try Expression("(" + String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 101)) }
        #expect(throws: Expression.ParseError.self) { try Expression("1 2") }
    }

    /// Random expression trees over small integers: what we parse and evaluate equals what the tree
    /// computes directly.
    indirect enum Tree: Sendable, CustomStringConvertible {
        case leaf(Int)
        case node(Character, Tree, Tree)
        var description: String {
            switch self {
            case .leaf(let v): return v < 0 ? "(\(v))" : "\(v)"
            case .node(let op, let l, let r): return "(\(l) \(op) \(r))"
            }
        }
        var value: Double {
            switch self {
            case .leaf(let v): return Double(v)
            case .node(let op, let l, let r):
                switch op {
                case "+": return l.value + r.value
                case "-": return l.value - r.value
                default: return l.value * r.value
                }
            }
        }
    }

    static func tree(_ seed: [Int]) -> Tree {
        var it = seed.makeIterator()
        func build(_ depth: Int) -> Tree {
            guard let n = it.next() else { return .leaf(1) }
            if depth > 5 || n % 3 == 0 { return .leaf(n % 200 - 100) }
            let op: Character = ["+", "-", "*"][abs(n) % 3]
            return .node(op, build(depth + 1), build(depth + 1))
        }
        return build(0)
    }

    @Test func parsedExpressionsEvaluateLikeTheirTrees() async {
        await propertyCheck(count: 300, input: Gen.int(in: -1000...1000).array(of: 1...40)) { seed in
            let t = Self.tree(seed)
            let parsed = try? Expression(t.description).number { _ in .missing }
            // Exact while integers fit in 64 bits; beyond, both fall back to doubles (in another order).
            let ours = parsed?.doubleValue ?? .nan, expected = t.value
            #expect(ours == expected || abs(ours - expected) <= 1e-12 * max(abs(ours), abs(expected)), "\(t)")
        }
    }

    @Test func arbitraryInputNeverCrashesTheParser() async {
        let alphabet = Array("0123456789+-*/%().volume_resource_metadata or and not 1e5 ,'\"")
        await propertyCheck(count: 500, input: Gen.int(in: 0...(alphabet.count - 1)).array(of: 0...60)) { indices in
            let text = String(indices.map { alphabet[$0] })
            if let e = try? Expression(text) {
                _ = try? e.evaluate { _ in .number(.int(3)) }
            }
        }
    }
}
