import Synchronization

/// Python `re.sub(pattern, template, value)` for name/unit mapping: every match replaced, `\1`…`\99`,
/// `\g<n>` and `\g<name>` in the template, empty matches handled as Python 3.7+ does. The pattern runs
/// on `PikeVM`, so no pattern can make it slow; results are remembered per value (meter names and units
/// are few).
final class RegexMapping: Sendable {
    let pattern: String
    let template: String
    private let vm: PikeVM?
    private let cache = Mutex<[String: String]>([:])
    static let cacheLimit = 4_096

    init(pattern: String, template: String) {
        self.pattern = pattern
        self.template = template
        vm = (try? Pattern(pattern)).map(PikeVM.init)
    }

    /// Why the pattern cannot be used, or nil.
    static func problem(_ pattern: String) -> String? {
        do { _ = try Pattern(pattern); return nil } catch { return "\(error)" }
    }

    /// Why the template cannot be used with the pattern (a group it does not have), or nil.
    static func templateProblem(_ template: String, pattern: String) -> String? {
        guard let p = try? Pattern(pattern) else { return nil }
        for ref in Self.references(in: template) {
            switch ref {
            case .number(let n) where n > p.groupCount: return "invalid group reference \(n) (the pattern has \(p.groupCount) group(s))"
            case .name(let name) where p.groupNames[name] == nil: return "unknown group name '\(name)'"
            default: continue
            }
        }
        return nil
    }

    func apply(_ value: String) -> String? {
        guard let vm else { return nil }
        if let hit = cache.withLock({ $0[value] }) { return hit }
        let out = substitute(value, vm)
        cache.withLock { c in
            if c.count >= Self.cacheLimit { c.removeAll(keepingCapacity: true) }
            c[value] = out
        }
        return out
    }

    private func substitute(_ value: String, _ vm: PikeVM) -> String {
        let input = Array(value.unicodeScalars)
        var out = String.UnicodeScalarView()
        var last = 0
        var pos = 0
        var mustAdvance = false
        while pos <= input.count, let m = vm.search(input, from: pos, notEmptyAt: mustAdvance ? pos : nil),
              let start = m[0], let end = m[1] {
            out.append(contentsOf: input[last..<start])
            expand(m, input, into: &out)
            last = end
            mustAdvance = start == end
            pos = end
        }
        out.append(contentsOf: input[last...])
        return String(out)
    }

    enum Reference: Equatable {
        case number(Int)
        case name(String)
    }

    static func references(in template: String) -> [Reference] {
        var out: [Reference] = []
        let t = Array(template)
        var i = 0
        while i < t.count {
            if t[i] == "\\", i + 1 < t.count {
                if t[i + 1].isNumber {
                    var j = i + 1, num = 0
                    while j < t.count, j < i + 3, let dv = t[j].wholeNumberValue { num = num * 10 + dv; j += 1 }
                    out.append(.number(num))
                    i = j
                    continue
                }
                if t[i + 1] == "g", i + 2 < t.count, t[i + 2] == "<", let close = t[(i + 3)...].firstIndex(of: ">") {
                    let name = String(t[(i + 3)..<close])
                    out.append(Int(name).map(Reference.number) ?? .name(name))
                    i = close + 1
                    continue
                }
                i += 2
                continue
            }
            i += 1
        }
        return out
    }

    private func expand(_ m: PikeVM.Match, _ input: [Unicode.Scalar], into out: inout String.UnicodeScalarView) {
        let t = Array(template)
        var i = 0
        func group(_ n: Int) {
            guard 2 * n + 1 < m.count, let s = m[2 * n], let e = m[2 * n + 1] else { return }
            out.append(contentsOf: input[s..<e])
        }
        func text(_ c: Character) { out.append(contentsOf: c.unicodeScalars) }
        while i < t.count {
            let c = t[i]
            if c == "\\", i + 1 < t.count {
                let n = t[i + 1]
                if n.isNumber {
                    var j = i + 1
                    var num = 0
                    while j < t.count, j < i + 3, let dv = t[j].wholeNumberValue { num = num * 10 + dv; j += 1 }
                    group(num)
                    i = j
                    continue
                }
                if n == "g", i + 2 < t.count, t[i + 2] == "<", let close = t[(i + 3)...].firstIndex(of: ">") {
                    let name = String(t[(i + 3)..<close])
                    if let num = Int(name) ?? vm?.pattern.groupNames[name] { group(num) }
                    i = close + 1
                    continue
                }
                switch n {
                case "n": text("\n")
                case "t": text("\t")
                case "\\": text("\\")
                default: text(c); text(n)
                }
                i += 2
                continue
            }
            text(c)
            i += 1
        }
    }
}
