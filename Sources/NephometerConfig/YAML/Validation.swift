import NephometerCore

/// Collects errors and warnings while a validator walks a file.
public final class Diagnostics {
    public private(set) var errors: [ConfigError] = []
    public private(set) var warnings: [ConfigWarning] = []
    public init() {}

    public func error(_ node: ConfigNode, _ message: String) { errors.append(ConfigError(at: node, message)) }
    public func error(_ e: ConfigError) { errors.append(e) }
    public func warning(_ node: ConfigNode, _ message: String) { warnings.append(ConfigError(at: node, message)) }
    public func absorb(_ other: Diagnostics) {
        errors += other.errors
        warnings += other.warnings
    }
}

/// Small typed readers over `ConfigNode` that report what was expected.
public extension ConfigNode {
    /// The mapping entries, or an error naming what was expected.
    func expectMapping(_ what: String, _ d: Diagnostics) -> [(key: ConfigNode, value: ConfigNode)]? {
        if let m = mapping { return m }
        d.error(self, "expected \(what) (a mapping), got \(kindName)")
        return nil
    }

    /// Reports keys not in `known`, with a did-you-mean hint and the list of accepted keys.
    func checkKeys(_ known: [String], _ d: Diagnostics, legacy: [String: String] = [:]) {
        guard let m = mapping else { return }
        var seen: [String: ConfigNode] = [:]
        for (k, _) in m {
            let name = k.scalar ?? ""
            if let first = seen[name] {
                d.error(k, "duplicated key '\(name)' (first at line \(first.position.line)); each key may appear once")
            }
            seen[name] = k
            if known.contains(name) { continue }
            if let why = legacy[name] { d.warning(k, "key '\(name)' is ignored: \(why)"); continue }
            d.error(k, "unknown key '\(name)'\(Suggestion.hint(for: name, in: known)); expected one of: \(known.joined(separator: ", "))")
        }
    }

    /// A non-empty string scalar.
    func expectString(_ what: String, _ d: Diagnostics, allowEmpty: Bool = false) -> String? {
        guard let s = scalar, !isNull else {
            d.error(self, "expected \(what) (a string), got \(kindName)")
            return nil
        }
        if s.isEmpty && !allowEmpty {
            d.error(self, "expected \(what), got an empty string")
            return nil
        }
        return s
    }

    /// A list of strings.
    func expectStringList(_ what: String, _ d: Diagnostics) -> [String]? {
        guard let items = sequence else {
            d.error(self, "expected \(what) (a list), got \(kindName)")
            return nil
        }
        var out: [String] = []
        var ok = true
        for item in items {
            if let s = item.scalar, !item.isNull, !s.isEmpty {
                out.append(s)
            } else {
                d.error(item, "expected a non-empty string in the \(what) list, got \(item.scalar == "" ? "an empty string" : item.kindName)")
                ok = false
            }
        }
        return ok ? out : nil
    }

    /// A whole number within `range`.
    func expectInt(_ what: String, _ d: Diagnostics, in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard let s = scalar, !isNull, let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            d.error(self, "expected \(what) (a whole number), got \(scalar.map { "'\($0)'" } ?? kindName)")
            return nil
        }
        guard range.contains(v) else {
            let bound = range.lowerBound == Int.min ? "at most \(range.upperBound)"
                : range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            d.error(self, "expected \(what) \(bound), got \(v)")
            return nil
        }
        return v
    }

    /// A number within `range`.
    func expectDouble(_ what: String, _ d: Diagnostics, in range: ClosedRange<Double>) -> Double? {
        guard let s = scalar, !isNull, let v = Double(s.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            d.error(self, "expected \(what) (a number), got \(scalar.map { "'\($0)'" } ?? kindName)")
            return nil
        }
        guard range.contains(v) else {
            d.error(self, "expected \(what) between \(range.lowerBound) and \(range.upperBound), got \(s)")
            return nil
        }
        return v
    }

    /// The `name` of a list entry (a source, a sink): required, and unique among `seen`.
    /// `duplicate(name, firstLine)` words the duplicate error.
    func uniqueName(_ kind: String, seen: inout [String: ConfigNode], _ d: Diagnostics,
                    duplicate: (String, Int) -> String) -> String? {
        guard let n = self["name"] else {
            d.error(self, "Required field name not specified (expected 'name: <\(kind) name>')")
            return nil
        }
        guard let name = n.expectString("the \(kind) name", d) else { return nil }
        if let first = seen[name] { d.error(n, duplicate(name, first.position.line)) }
        seen[name] = n
        return name
    }

    /// The `meters` list of a source, checked with Ceilometer's filtering rules.
    func meterList(_ d: Diagnostics) -> [String]? {
        guard let m = self["meters"] else {
            d.error(self, "Missing meters value (expected 'meters:' with a list of meter names or patterns)")
            return nil
        }
        guard let list = m.expectStringList("meters", d) else { return nil }
        if let problem = MeterSelector.problem(with: list) {
            d.error(m, problem)
            return nil
        }
        return list
    }

    func expectBool(_ what: String, _ d: Diagnostics) -> Bool? {
        guard let b = bool else {
            d.error(self, "expected \(what) (true or false), got \(scalar.map { "'\($0)'" } ?? kindName)")
            return nil
        }
        return b
    }
}

import Foundation
