import NephometerCore

/// Python number semantics on `Number`: integer results stay integers (with overflow falling back to
/// float), `/` always gives a float, `//` and `%` floor, `**` with a negative exponent gives a float.
enum Arithmetic {
    static func negate(_ x: Number) -> Number {
        if case .int(let a) = x, a != Int64.min { return .int(-a) }
        return .double(-x.doubleValue)
    }

    /// The binary arithmetic operators, by their spelling in expressions.
    enum Op: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    }

    static func apply(_ op: String, _ x: Number, _ y: Number) throws(Expression.EvaluationError) -> Number {
        guard let o = Op(rawValue: op) else { throw Expression.EvaluationError("unknown operator \(op)") }
        return try apply(o, x, y)
    }

    static func apply(_ op: Op, _ x: Number, _ y: Number) throws(Expression.EvaluationError) -> Number {
        if case .int(let a) = x, case .int(let b) = y {
            switch op {
            case .add: let (r, o) = a.addingReportingOverflow(b); if !o { return .int(r) }
            case .subtract: let (r, o) = a.subtractingReportingOverflow(b); if !o { return .int(r) }
            case .multiply: let (r, o) = a.multipliedReportingOverflow(by: b); if !o { return .int(r) }
            case .floorDivide:
                guard b != 0 else { throw Expression.EvaluationError("integer division by zero") }
                if !(a == Int64.min && b == -1) {
                    var q = a / b
                    if (a % b != 0) && ((a < 0) != (b < 0)) { q -= 1 }
                    return .int(q)
                }
            case .modulo:
                guard b != 0 else { throw Expression.EvaluationError("modulo by zero") }
                if !(a == Int64.min && b == -1) {
                    var r = a % b
                    if r != 0 && ((r < 0) != (b < 0)) { r += b }
                    return .int(r)
                }
            case .power:
                if b >= 0, let r = intPow(a, b) { return .int(r) }
            case .divide: break
            }
        }
        let a = x.doubleValue, b = y.doubleValue
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw Expression.EvaluationError("division by zero") }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw Expression.EvaluationError("division by zero") }
            return .double((a / b).rounded(.down))
        case .modulo:
            guard b != 0 else { throw Expression.EvaluationError("modulo by zero") }
            var r = a.truncatingRemainder(dividingBy: b)
            if r != 0 && ((r < 0) != (b < 0)) { r += b }
            return .double(r)
        case .power:
            if a == 0 && b < 0 { throw Expression.EvaluationError("zero to a negative power") }
            let r = pow(a, b)
            guard !r.isNaN || a.isNaN || b.isNaN else { throw Expression.EvaluationError("\(a) ** \(b) is not a real number") }
            return .double(r)
        }
    }

    static func intPow(_ base: Int64, _ exp: Int64) -> Int64? {
        var result: Int64 = 1, b = base, e = exp
        while e > 0 {
            if e & 1 == 1 {
                let (r, o) = result.multipliedReportingOverflow(by: b)
                if o { return nil }
                result = r
            }
            e >>= 1
            if e > 0 {
                let (sq, o) = b.multipliedReportingOverflow(by: b)
                if o { return nil }
                b = sq
            }
        }
        return result
    }
}

import Foundation
