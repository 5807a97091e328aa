import NephometerCore

/// An expression compiled, at load time, to a flat list of stack-machine instructions: evaluation is a
/// loop over an array with operators as enums, with no tree walking, operator-string comparisons or
/// allocation (the value stack lives in a temporary allocation on the call stack). Semantics are
/// exactly `Expression.eval`'s (the tree walker, kept as the reference and tested against this).
struct ExpressionProgram: Sendable, Hashable {
    enum Comparison: String, Sendable, Hashable { case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }

    enum Instruction: Sendable, Hashable {
        case constant(ExpressionValue)
        /// A dotted path, resolved by the scope.
        case path(ResolvedPath)
        case not, negate, plus
        case arithmetic(Arithmetic.Op)
        case compare(Comparison)
        /// `or`: when the top is truthy, jump to the target keeping it; else pop it and go on.
        case jumpIfTruthy(Int)
        /// `and`: when the top is falsy, jump to the target keeping it; else pop it and go on.
        case jumpIfFalsy(Int)
        case call(String, Int)
    }

    let code: [Instruction]
    let maxDepth: Int

    init(_ root: Expression.Node) {
        var code: [Instruction] = []
        var depth = 0, maxDepth = 0
        func push() { depth += 1; maxDepth = max(maxDepth, depth) }
        func emit(_ n: Expression.Node) {
            switch n {
            case .number(let v): code.append(.constant(.number(v))); push()
            case .string(let s): code.append(.constant(.string(s))); push()
            case .path(let p): code.append(.path(ResolvedPath(p))); push()
            case .unary(let op, let a):
                emit(a)
                code.append(op == "not" ? .not : op == "-" ? .negate : .plus)
            case .binary(let op, let a, let b) where op == "or" || op == "and":
                emit(a)
                let jump = code.count
                code.append(.not)  // placeholder, patched below
                depth -= 1
                emit(b)
                code[jump] = op == "or" ? .jumpIfTruthy(code.count) : .jumpIfFalsy(code.count)
            case .binary(let op, let a, let b):
                emit(a)
                emit(b)
                depth -= 1
                if let c = Comparison(rawValue: op) { code.append(.compare(c)) }
                else if let o = Arithmetic.Op(rawValue: op) { code.append(.arithmetic(o)) }
                else { code.append(.call("operator \(op)", 2)) }  // unreachable from the parser; fails at run time
            case .call(let f, let args):
                for a in args { emit(a) }
                if args.isEmpty { push() } else { depth -= args.count - 1 }
                code.append(.call(f, args.count))
            }
        }
        emit(root)
        self.code = code
        self.maxDepth = max(maxDepth, 1)
    }

    /// Evaluates to a number, or throws when the result is not numeric.
    func number<S: ExpressionScope>(in scope: S) throws(Expression.EvaluationError) -> Number {
        try Expression.numeric(try run(scope))
    }

    func run<S: ExpressionScope>(_ scope: S) throws(Expression.EvaluationError) -> ExpressionValue {
        try withUnsafeTemporaryAllocation(of: ExpressionValue.self, capacity: maxDepth) { stack throws(Expression.EvaluationError) in
            var values = ValueStack(stack)
            defer { values.clear() }
            try execute(scope, &values)
            return values.pop()
        }
    }

    /// The loop, on a stack passed inout (no closure captures: those would be boxed and access-checked).
    private func execute<S: ExpressionScope>(_ scope: S, _ values: inout ValueStack) throws(Expression.EvaluationError) {
        var pc = 0
        while pc < code.count {
            switch code[pc] {
            case .constant(let v): values.push(v)
            case .path(let p): values.push(scope.lookup(resolved: p))
            case .not: values.push(.bool(!values.pop().truthy))
            case .negate:
                let v = values.pop()
                guard case .number(let x) = v else { throw .init("cannot negate \(v.typeName)") }
                values.push(.number(Arithmetic.negate(x)))
            case .plus:
                guard case .number = values.top else { throw .init("unary + on \(values.top.typeName)") }
            case .arithmetic(let op):
                let r = values.pop(), l = values.pop()
                guard case .number(let x) = l, case .number(let y) = r else {
                    throw .init("unsupported operand types for \(op.rawValue): \(l.typeName) and \(r.typeName)")
                }
                values.push(.number(try Arithmetic.apply(op, x, y)))
            case .compare(let c):
                let r = values.pop(), l = values.pop()
                values.push(.bool(try Expression.compare(c.rawValue, l, r)))
            case .jumpIfTruthy(let target):
                if values.top.truthy { pc = target; continue }
                _ = values.pop()
            case .jumpIfFalsy(let target):
                if !values.top.truthy { pc = target; continue }
                _ = values.pop()
            case .call(let f, let n):
                var args: [Expression.Node] = []
                args.reserveCapacity(n)
                var popped: [ExpressionValue] = []
                for _ in 0..<n { popped.append(values.pop()) }
                for v in popped.reversed() {
                    guard case .number(let x) = v else { throw .init("\(f)() needs numbers, got \(v.typeName)") }
                    args.append(.number(x))
                }
                // Calls are rare (min, max, round...): evaluate them with the reference code.
                values.push(try Expression.eval(.call(f, args), NoScope()))
            }
            pc += 1
        }
    }
}

/// The evaluation stack over uninitialized temporary memory; `clear()` deinitializes what is left.
struct ValueStack {
    private let base: UnsafeMutableBufferPointer<ExpressionValue>
    private var count = 0

    init(_ base: UnsafeMutableBufferPointer<ExpressionValue>) { self.base = base }

    mutating func push(_ v: ExpressionValue) {
        base.initializeElement(at: count, to: v)
        count += 1
    }

    mutating func pop() -> ExpressionValue {
        count -= 1
        return base.moveElement(from: count)
    }

    var top: ExpressionValue { base[count - 1] }

    mutating func clear() {
        while count > 0 { _ = pop() }
    }
}

/// A dotted path with its root name classified once, at compile time.
public struct ResolvedPath: Sendable, Hashable {
    public enum Root: Sendable, Hashable { case volume, resourceMetadata, other }
    public let names: [String]
    public let root: Root

    init(_ names: [String]) {
        self.names = names
        root = names.first == "volume" ? .volume : names.first == "resource_metadata" ? .resourceMetadata : .other
    }
}

extension ExpressionScope {
    /// Resolves a compiled path by its names; scopes that can use the pre-classified root implement it.
    public func lookup(resolved path: ResolvedPath) -> ExpressionValue { lookup(path.names[...]) }
}
