/// Runs a `Pattern` over Unicode scalars: all threads advance one position at a time, in priority order
/// (which gives the leftmost-first match and groups a backtracking engine would), each program step
/// entered at most once per position — so time is O(input × program) whatever the pattern.
struct PikeVM {
    let pattern: Pattern
    private let slots: Int

    init(_ pattern: Pattern) {
        self.pattern = pattern
        slots = 2 * (pattern.groupCount + 1)
        state = slots + pattern.loopRegisters
    }

    /// Capture slots plus loop registers.
    private let state: Int

    /// Group spans of a match (scalar offsets; nil for a group that did not take part).
    typealias Match = [Int?]

    private struct Thread {
        var pc: Int
        var caps: [Int]
    }

    /// The leftmost match starting at or after `start`. With `notEmptyAt`, an empty match at that
    /// position does not count (Python's rule after an empty match in `re.sub`).
    func search(_ input: [Unicode.Scalar], from start: Int, notEmptyAt: Int? = nil) -> Match? {
        let n = input.count
        let program = pattern.program
        var current: [Thread] = []
        var next: [Thread] = []
        var seen = [Int](repeating: -1, count: program.count)
        var generation = 0
        var matched: [Int]?
        var stack: [Thread] = []

        // Follows jumps, splits, saves and assertions from `t` at `pos`, adding the threads that wait
        // for input (or match) to `list` in priority order.
        func add(_ t: Thread, _ pos: Int, to list: inout [Thread]) {
            stack.append(t)
            while var t = stack.popLast() {
                while true {
                    if seen[t.pc] == generation { break }
                    seen[t.pc] = generation
                    switch program[t.pc] {
                    case .jump(let to):
                        t.pc = to
                        continue
                    case .split(let a, let b):
                        stack.append(Thread(pc: b, caps: t.caps))
                        t.pc = a
                        continue
                    case .save(let slot), .mark(let slot):
                        t.caps[slot] = pos
                        t.pc += 1
                        continue
                    case .loop(let register, let head, let exit):
                        t.pc = t.caps[register] == pos ? exit : head
                        continue
                    case .assert(let a):
                        guard holds(a, input, pos) else { break }
                        t.pc += 1
                        continue
                    default:
                        list.append(t)
                    }
                    break
                }
            }
        }

        var pos = start
        generation += 1
        add(Thread(pc: 0, caps: [Int](repeating: -1, count: state)), pos, to: &current)
        while true {
            generation += 1
            next.removeAll(keepingCapacity: true)
            var i = 0
            while i < current.count {
                let t = current[i]
                i += 1
                switch program[t.pc] {
                case .match:
                    if let forbidden = notEmptyAt, t.caps[0] == forbidden, pos == forbidden { continue }
                    matched = t.caps
                    // Lower-priority threads lose to this match.
                    i = current.count
                case .scalar(let v):
                    if pos < n, input[pos].value == v { add(Thread(pc: t.pc + 1, caps: t.caps), pos + 1, to: &next) }
                case .any:
                    if pos < n, input[pos] != "\n" { add(Thread(pc: t.pc + 1, caps: t.caps), pos + 1, to: &next) }
                case .set(let k):
                    if pos < n, pattern.sets[k].contains(input[pos]) { add(Thread(pc: t.pc + 1, caps: t.caps), pos + 1, to: &next) }
                default:
                    break
                }
            }
            if pos >= n || (next.isEmpty && matched != nil) { break }
            pos += 1
            // Until something matched, a new attempt starts at every position, after all older ones.
            if matched == nil {
                add(Thread(pc: 0, caps: [Int](repeating: -1, count: state)), pos, to: &next)
            }
            swap(&current, &next)
        }
        guard let caps = matched else { return nil }
        var out: Match = []
        out.reserveCapacity(slots)
        for k in stride(from: 0, to: slots, by: 2) {
            let whole = caps[k] >= 0 && caps[k + 1] >= 0
            out.append(whole ? caps[k] : nil)
            out.append(whole ? caps[k + 1] : nil)
        }
        return out
    }

    private func holds(_ a: Assertion, _ input: [Unicode.Scalar], _ pos: Int) -> Bool {
        let n = input.count
        switch a {
        case .start: return pos == 0
        case .end: return pos == n || (pos == n - 1 && input[n - 1] == "\n")
        case .endOfText: return pos == n
        case .notWordBoundary where n == 0:
            return false  // as CPython's sre: \B never matches an empty string
        case .wordBoundary, .notWordBoundary:
            let before = pos > 0 && BuiltinClass.word.contains(input[pos - 1])
            let after = pos < n && BuiltinClass.word.contains(input[pos])
            return (before != after) == (a == .wordBoundary)
        }
    }
}
