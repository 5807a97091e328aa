import Foundation
import Logging
import NephometerAgent
import NephometerConfig
import NephometerCore
import NephometerPipeline
import Testing
import TestSupport

/// A seeded, deterministic fuzzer of configuration files and expressions, run on every CI run: valid
/// files are mutated (numbers swapped for hostile ones, keys, lines and characters changed, anchors and
/// aliases added) and each result goes through `validate` and through start-up. Nothing may crash or
/// take long, memory stays bounded, and `validate` accepts exactly what start-up accepts.
@Suite(.serialized) struct ConfigFuzzTests {
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    static let hostileNumbers = ["0", "-1", "1e30", "-1e30", "inf", ".inf", ".nan", "nan", "9223372036854775807", "9223372036854775808",
                                 "-9223372036854775808", "99999999999", "1e-300", "0.0001", "2147483648", "10**15", "1e999", "''", "abc", "1_000"]
    static let hostileStrings = ["(.*)*(.*)*!", "(a)\\\\1", "round(volume, 1e30)", "volume * 1e308 * 10", "int(1e30)", "round(1, 10**15)",
                                 "http://u:p/w?x@h:1/x", "udp://h:0", "snmp://u:p?x@h", "file://", "etcd3+http://h?timeout=inf",
                                 "file:///tmp/fuzz.log?max_bytes=1&backup_count=5000", "http://h/x?timeout=0", "gnocchi://", "*", "!cpu", ""]

    static let pipelineTemplate = """
        sources:
          - name: s
            meters: ["cpu", "disk.*"]
            sinks: [k]
        sinks:
          - name: k
            transformers:
              - name: rate_of_change
                parameters:
                  source: {map_from: {name: "disk\\\\.(read|write)\\\\.(bytes|requests)", unit: "(B|request)"}}
                  target: {map_to: {name: "disk.\\\\1.\\\\2.rate", unit: "\\\\1/s"}, type: gauge, scale: "100.0 / (10**9 * (resource_metadata.cpu_number or 1))", max: 100}
              - name: aggregator
                parameters: {size: 100, retention_time: 5, resource_metadata: last}
              - name: accumulator
                parameters: {size: 3}
            publishers: ["file:///tmp/nephometer-fuzz/out.log?max_bytes=1000000&backup_count=3", "udp://127.0.0.1:4952", "http://127.0.0.1:9/v1?timeout=2&max_retries=1"]
        """

    static let pollingTemplate = """
        sources:
          - name: c
            interval: 60
            meters: [cpu, "disk.*"]
          - name: h
            interval: 300
            meters: ["hardware.*"]
            resources: ["snmp://public@127.0.0.1:161?timeout=1&retries=2"]
        """

    static let agentTemplate = """
        host: fuzz-host
        log_level: info
        polling: {batch_size: 50, jitter: 0.1}
        publisher: {spool_max_bytes: auto, spool_hold: 7200, spool_max_age: 86400, memory_max_bytes: 67108864, spool_after: 1}
        compute: {domain_deadline: 10, report_stopped_instance_metrics: false}
        coordination: {backend_url: "file:///tmp/nephometer-fuzz/group?timeout=10"}
        """

    /// One random change to a YAML text.
    static func mutate(_ text: String, _ r: inout Rng) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let i = r.below(lines.count)
        switch r.below(9) {
        case 0, 1:
            // A number for a hostile one.
            if let range = lines[i].range(of: #"-?[0-9][0-9._e]*"#, options: .regularExpression) {
                lines[i].replaceSubrange(range, with: r.pick(hostileNumbers))
            }
        case 2:
            // A quoted string for a hostile one.
            if let range = lines[i].range(of: #""[^"]*""#, options: .regularExpression) {
                lines[i].replaceSubrange(range, with: "\"\(r.pick(hostileStrings))\"")
            }
        case 3: lines.remove(at: i)
        case 4: lines.insert(lines[i], at: i)
        case 5:
            var chars = Array(lines[i])
            if !chars.isEmpty { chars[r.below(chars.count)] = r.pick(Array(":[]{}&*!|>-#'\"\\ \t,%@")) }
            lines[i] = String(chars)
        case 6:
            // An anchor and aliases.
            lines[i] = lines[i].replacingOccurrences(of: ": ", with: ": &x ", options: [], range: nil)
            lines.append("extra: [*x, *x, *x]")
        case 7:
            lines[i] = String(repeating: " ", count: r.below(6)) + lines[i].trimmingCharacters(in: .whitespaces)
        default:
            let keys = ["interval", "meters", "size", "scale", "timeout", "batch_size", "jitter", "backend_url", "name", "publishers"]
            lines[i] = lines[i].replacingOccurrences(of: r.pick(keys), with: r.pick(keys + ["intervall", "scalee", "x"]))
        }
        return lines.joined(separator: "\n")
    }

    static func rssMiB() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let kb = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        return (kb ?? 0) / 1024
    }

    @Test func validateAcceptsExactlyWhatStartUpAccepts() async throws {
        let dir = TemporaryDirectory("fuzz")
        var r = Rng(state: 0xC0FFEE)
        let startRSS = Self.rssMiB()
        var disagreements: [String] = []
        var slowest = 0.0
        var accepted = 0
        let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
        for n in 0..<600 {
            var pipeline = Self.pipelineTemplate, polling = Self.pollingTemplate, agent = Self.agentTemplate
            for _ in 0..<(1 + r.below(3)) {
                switch r.below(3) {
                case 0: pipeline = Self.mutate(pipeline, &r)
                case 1: polling = Self.mutate(polling, &r)
                default: agent = Self.mutate(agent, &r)
                }
            }
            let pl = try dir.write("pipeline.yaml", pipeline), po = try dir.write("polling.yaml", polling), ag = try dir.write("nephometer.yaml", agent)
            let overrides = ConfigOverrides(pollingFile: po, pipelineFile: pl, spoolDirectory: dir.file("spool"))
            let started = Date()
            let validation = AgentRuntime.validate(agentConfigFile: ag, overrides: overrides)
            // Start-up: what `agent` and `poll --publish` do before polling.
            var startErrors: [String] = []
            switch AgentRuntime.load(agentConfigFile: ag, overrides: overrides) {
            case .failure(let e): startErrors = e.errors.map(\.description)
            case .success(let b):
                do {
                    let partitioner = try AgentRuntime.partitioner(b.config.agent, logger: logger)
                    await partitioner?.stop()
                } catch { startErrors += error.errors.map(\.description) }
                switch AgentRuntime.pipeline(b.config, logger: logger) {
                case .success(let p): await p.shutdown()
                case .failure(let e): startErrors += e.errors.map(\.description)
                }
                for f in await AgentRuntime.families(b, namespaces: AgentRuntime.namespaces, logger: logger).values { await f.shutdown() }
            }
            slowest = max(slowest, Date().timeIntervalSince(started))
            let validated = validation.errors.isEmpty
            if validated { accepted += 1 }
            if validated != startErrors.isEmpty {
                disagreements.append("case \(n): validate \(validated ? "accepts" : "refuses: \(validation.errors.prefix(2))"), start-up \(startErrors.isEmpty ? "accepts" : "refuses: \(startErrors.prefix(2))")")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreement(s):\n\(disagreements.prefix(5).joined(separator: "\n"))")
        #expect(slowest < 2, "the slowest case took \(slowest) s")
        #expect(Self.rssMiB() - startRSS < 300, "RSS grew from \(startRSS) to \(Self.rssMiB()) MiB")
        // The corpus exercises both sides.
        #expect(accepted > 30 && accepted < 570, "\(accepted) of 600 accepted")
    }

    @Test func expressionsNeverCrashOrHang() {
        var r = Rng(state: 42)
        let atoms = ["volume", "resource_metadata.cpu_number", "1", "0", "-1", "2.5", "1e30", "1e999", "9223372036854775807", "10**15",
                     "'s'", "None", "True", "$(cpu).volume", "x.y.z"]
        let ops = ["+", "-", "*", "/", "//", "%", "**", " or ", " and ", "==", "<"]
        let calls = ["round", "int", "float", "abs", "min", "max"]
        func expr(_ depth: Int) -> String {
            switch r.below(depth > 5 ? 1 : 4) {
            case 1: return "(\(expr(depth + 1))\(r.pick(ops))\(expr(depth + 1)))"
            case 2: return "\(r.pick(calls))(\(expr(depth + 1)), \(expr(depth + 1)))"
            case 3: return "-\(expr(depth + 1))"
            default: return r.pick(atoms)
            }
        }
        struct Scope: ExpressionScope {
            let volume: Number
            func lookup(_ path: ArraySlice<String>) -> ExpressionValue {
                path.first == "volume" ? .number(volume) : path.joined(separator: ".") == "resource_metadata.cpu_number" ? .number(.int(2)) : .missing
            }
        }
        let volumes: [Number] = [.int(0), .int(1), .int(Int64.max), .int(Int64.min), .double(.nan), .double(.infinity), .double(1e308), .double(-0.0)]
        var slowest = 0.0
        for _ in 0..<5_000 {
            var text = expr(0)
            if r.below(4) == 0 { text = Self.mutate(text, &r) }
            let started = Date()
            if let e = try? Expression(text) {
                for v in volumes { _ = try? e.evaluate(in: Scope(volume: v)) }
            }
            slowest = max(slowest, Date().timeIntervalSince(started))
        }
        #expect(slowest < 0.5, "the slowest expression took \(slowest) s")
    }
}
