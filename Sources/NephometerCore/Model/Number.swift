/// A numeric value that remembers how it was written.
///
/// Ceilometer volumes and metadata values are Python `int` or `float`, and the two render differently
/// (`2048` vs `2048.0`) in JSON, in signatures and in msgpack. `Number` keeps that distinction, and keeps
/// integers beyond 64 bits exactly as decimal digits so they are never silently rounded.
public enum Number: Sendable, Hashable {
    case int(Int64)
    /// Only used for values above `Int64.max`.
    case uint(UInt64)
    case double(Double)
    /// An integer that fits in neither `Int64` nor `UInt64`, as decimal digits with an optional leading `-`.
    case big(String)

    public init(_ value: Int) { self = .int(Int64(value)) }
    public init(_ value: Int64) { self = .int(value) }
    public init(_ value: UInt64) { self = value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value) }
    public init(_ value: Double) { self = .double(value) }

    /// The value as a Double (approximate for large integers).
    public var doubleValue: Double {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .double(let v): return v
        case .big(let s): return Double(s) ?? .nan
        }
    }

    public var isInteger: Bool {
        if case .double = self { return false }
        return true
    }

    /// Python's `str()` of the number: `1`, `1.0`, `1e-05`, `100000000000000000000`.
    public var pythonString: String {
        switch self {
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .double(let v): return PythonFloat.repr(v)
        case .big(let s): return s
        }
    }

    /// Parses a JSON/YAML number literal, keeping integer-ness.
    public init?(literal: String) {
        guard !literal.isEmpty else { return nil }
        let isFloat = literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        if isFloat {
            guard let d = Double(literal) else { return nil }
            self = .double(d)
            return
        }
        if let v = Int64(literal) { self = .int(v); return }
        if let v = UInt64(literal) { self = .uint(v); return }
        var digits = Substring(literal)
        let negative = digits.first == "-"
        if negative || digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let trimmed = digits.drop(while: { $0 == "0" })
        self = .big((negative ? "-" : "") + (trimmed.isEmpty ? "0" : String(trimmed)))
    }
}

/// Python's float `repr()`: the shortest string that round-trips, with Python's choice between
/// positional and exponent notation (`1e-05`, `1e+16`, `1000000000000000.0`, `0.0001`).
public enum PythonFloat {
    public static func repr(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description is also the shortest round-trip form, and it switches to exponent notation
        // earlier than Python does (at 2^53 and below 1e-4 alike), so a positional description is
        // already Python's repr.
        let description = value.description
        if !description.utf8.contains(UInt8(ascii: "e")) { return description }
        let (negative, digits, decimalPoint) = shortestDigits(value)
        var out = negative ? "-" : ""
        if decimalPoint > -4 && decimalPoint <= 16 {
            if decimalPoint <= 0 {
                out += "0." + String(repeating: "0", count: -decimalPoint) + digits
            } else if decimalPoint >= digits.count {
                out += digits + String(repeating: "0", count: decimalPoint - digits.count) + ".0"
            } else {
                let i = digits.index(digits.startIndex, offsetBy: decimalPoint)
                out += digits[..<i] + "." + digits[i...]
            }
        } else {
            let exponent = decimalPoint - 1
            out += String(digits.first!)
            if digits.count > 1 { out += "." + digits.dropFirst() }
            out += exponent < 0 ? "e-" : "e+"
            let e = String(abs(exponent))
            out += e.count < 2 ? "0" + e : e
        }
        return out
    }

    /// Decomposes `value` into sign, significant digits (no leading/trailing zeros) and the position of
    /// the decimal point relative to the first digit (Python's `decpt`).
    static func shortestDigits(_ value: Double) -> (Bool, String, Int) {
        let text = value.magnitude.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var intPart = mantissa
        var fracPart = Substring("")
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        }
        var digits = String(intPart) + String(fracPart)
        var decpt = intPart.count + exponent
        // Strip leading zeros (0.001 -> "0001").
        while digits.first == "0" && digits.count > 1 { digits.removeFirst(); decpt -= 1 }
        while digits.last == "0" && digits.count > 1 { digits.removeLast() }
        return (value.sign == .minus, digits, decpt)
    }
}
