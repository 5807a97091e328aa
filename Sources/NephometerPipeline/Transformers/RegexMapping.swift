/// Python `re.sub(pattern, template, value)` for name/unit mapping: every match replaced, `\1`…`\99`
/// and `\g<n>` back-references in the template.
final class RegexMapping {
    let pattern: String
    let template: String
    private let regex: Regex<AnyRegexOutput>?

    init(pattern: String, template: String) {
        self.pattern = pattern
        self.template = template
        regex = try? Regex(pattern)
    }

    static func problem(_ pattern: String) -> String? {
        do { _ = try Regex(pattern); return nil } catch { return "\(error)" }
    }

    func apply(_ value: String) -> String? {
        guard let regex else { return nil }
        var out = ""
        var last = value.startIndex
        for m in value.matches(of: regex) {
            out += value[last..<m.range.lowerBound]
            out += expand(m)
            last = m.range.upperBound
        }
        out += value[last...]
        return out
    }

    private func expand(_ m: Regex<AnyRegexOutput>.Match) -> String {
        var out = ""
        let t = Array(template)
        var i = 0
        func group(_ n: Int) -> String {
            guard n < m.output.count, let sub = m.output[n].substring else { return "" }
            return String(sub)
        }
        while i < t.count {
            let c = t[i]
            if c == "\\", i + 1 < t.count {
                let n = t[i + 1]
                if n.isNumber {
                    var j = i + 1
                    var num = 0
                    while j < t.count, j < i + 3, let dv = t[j].wholeNumberValue { num = num * 10 + dv; j += 1 }
                    out += group(num)
                    i = j
                    continue
                }
                if n == "g", i + 2 < t.count, t[i + 2] == "<", let close = t[(i + 3)...].firstIndex(of: ">") {
                    let name = String(t[(i + 3)..<close])
                    if let num = Int(name) { out += group(num) }
                    i = close + 1
                    continue
                }
                switch n {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\": out.append("\\")
                default: out.append(c); out.append(n)
                }
                i += 2
                continue
            }
            out.append(c)
            i += 1
        }
        return out
    }
}
