import Foundation
@testable import NephometerPipeline
import Testing
import TestSupport

/// The non-backtracking matcher behind `map_from`: the same substitutions as Python's `re.sub` (real
/// CPython, run as the reference), and no pattern that can make it slow.
@Suite struct RegexTests {
    /// A deterministic generator (SplitMix64), so a failure names a reproducible case.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let atoms = ["a", "b", "x", ".", "\\.", "[ab]", "[^a]", "[a-c_]", "\\d", "\\w", "\\s", "\\W", "_", "1", "^", "$", "\\b", "\\B"]
    static let quantifiers = ["", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{0,2}", "{1,}", "{,2}"]

    /// A random pattern and whether it repeats anything. Groups that repeat inside are not repeated
    /// themselves: CPython's backtracking would take exponential time on those (which is the point of
    /// our matcher, tested below, but makes a poor reference).
    static func pattern(_ r: inout Rng, depth: Int = 0) -> (String, Bool) {
        var out = ""
        var repeats = false
        for _ in 0..<(1 + r.below(3)) {
            var atom: String
            var inner = false
            switch r.below(depth > 2 ? 4 : 7) {
            case 4:
                let (p, q) = pattern(&r, depth: depth + 1)
                (atom, inner) = ("(\(p))", q)
            case 5:
                let (p, q) = pattern(&r, depth: depth + 1), (p2, q2) = pattern(&r, depth: depth + 1)
                (atom, inner) = ("(?:\(p)|\(p2))", q || q2)
            case 6:
                let (p, q) = pattern(&r, depth: depth + 1)
                (atom, inner) = ("(?P<g\(depth)\(r.below(9))>\(p))", q)
            default: atom = r.pick(atoms)
            }
            let q = inner ? "" : r.pick(quantifiers)
            repeats = repeats || inner || !q.isEmpty
            if ["^", "$", "\\b", "\\B"].contains(atom) { out += atom } else { out += atom + q }
        }
        return (out, repeats)
    }

    static func input(_ r: inout Rng) -> String {
        String((0..<r.below(9)).map { _ in r.pick(Array("abx._1 \n")) })
    }

    @Test func substitutionsEqualCPythonsReSub() throws {
        var r = Rng(state: 20_261_201)
        var cases: [(pattern: String, template: String, input: String)] = []
        while cases.count < 4000 {
            let (p, _) = Self.pattern(&r)
            guard (try? Pattern(p)) != nil else { continue }
            let groups = (try? Pattern(p))?.groupCount ?? 0
            let template = r.pick(["-", "", "<\\g<0>>"] + (groups > 0 ? ["[\\1]", "\\g<1>\\g<1>"] : []))
            cases.append((p, template, Self.input(&r)))
        }
        // Python computes all of them in one process.
        let json = try JSONSerialization.data(withJSONObject: cases.map { [$0.pattern, $0.template, $0.input] })
        let script = """
            import json, re, sys
            out = []
            for p, t, s in json.load(sys.stdin):
                try:
                    out.append(re.sub(p, t, s))
                except Exception as e:
                    out.append(None)
            json.dump(out, sys.stdout)
            """
        let py = try Command.run("python3", ["-c", script], stdin: String(decoding: json, as: UTF8.self))
        #expect(py.status == 0, "\(py.stderr)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [Any])
        #expect(expected.count == cases.count)
        var mismatches: [String] = []
        for (k, c) in cases.enumerated() {
            guard let want = expected[k] as? String else { continue }  // Python refused the case
            let got = RegexMapping(pattern: c.pattern, template: c.template).apply(c.input)
            if got != want { mismatches.append("re.sub(\(c.pattern.debugDescription), \(c.template.debugDescription), \(c.input.debugDescription)): Python \(want.debugDescription), ours \(got.debugDescription)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ, e.g.:\n\(mismatches.prefix(8).joined(separator: "\n"))")
    }

    @Test func catastrophicPatternsStayLinear() throws {
        // Each of these takes a backtracking engine (Python's, or Swift's Regex) exponential time.
        let hostile = ["(.*)*(.*)*(.*)*(.*)*(.*)*!", "(a|a)*b", "(a*)*$x", "((a+)+)+c", "(x+x+)+y", "(.*a){12}"]
        let input = String(repeating: "a", count: 40) + "x"
        let started = Date()
        for p in hostile {
            let m = RegexMapping(pattern: p, template: "-")
            #expect(m.apply(input) != nil)
        }
        // Generous: a linear matcher does all of these in milliseconds; a backtracking one never finishes.
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func unsupportedSyntaxIsRefusedWithAReason() {
        #expect(RegexMapping.problem("(a)\\1")?.contains("back-references") == true)
        #expect(RegexMapping.problem("(?=a)")?.contains("not supported") == true)
        #expect(RegexMapping.problem("(?i)a")?.contains("not supported") == true)
        #expect(RegexMapping.problem("a{5000}")?.contains("above 1000") == true)
        #expect(RegexMapping.problem(String(repeating: "a", count: 1001))?.contains("longer than 1000") == true)
        #expect(RegexMapping.problem("(.{1000}){1000}")?.contains("too large") == true)
        #expect(RegexMapping.problem("(ab") != nil)
        #expect(RegexMapping.problem("*a") != nil)
        #expect(RegexMapping.problem("disk\\.(read|write)\\.(bytes|requests)") == nil)
        #expect(RegexMapping.templateProblem("\\3", pattern: "(a)(b)")?.contains("invalid group reference 3") == true)
        #expect(RegexMapping.templateProblem("\\g<nope>", pattern: "(?P<yes>a)")?.contains("unknown group name") == true)
        #expect(RegexMapping(pattern: "disk\\.(read|write)\\.(bytes|requests)", template: "disk.\\1.\\2.rate")
            .apply("disk.read.bytes") == "disk.read.bytes.rate")
    }
}
