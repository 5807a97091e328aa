import Foundation
import NephometerConfig
import NephometerPipeline
import Testing
import TestSupport

/// A corpus of broken configuration files: each must be rejected with the file, line, column, key and
/// what was expected.
@Suite struct BrokenConfigTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let yaml: String
        /// Expected error lines with `F` standing for the file path.
        let errors: [String]
        var description: String { name }
    }

    static let polling: [Case] = [
        Case(name: "no sources", yaml: "---\nsource:\n  - name: a\n", errors: [
            "F:2:1: source: unknown key 'source' (did you mean 'sources'?); expected one of: sources",
            "F:2:1: sources required (expected a 'sources' list of polling sources at the top level)"]),
        Case(name: "sources not a list", yaml: "sources: cpu\n", errors: [
            "F:1:10: sources: expected a list of polling sources, got a scalar"]),
        Case(name: "missing name", yaml: "sources:\n  - interval: 60\n    meters: [cpu]\n", errors: [
            "F:2:5: sources[0]: Required field name not specified (expected 'name: <source name>')"]),
        Case(name: "missing interval", yaml: "sources:\n  - name: a\n    meters: [cpu]\n", errors: [
            "F:2:5: sources[0]: Missing interval value (expected 'interval: <seconds>', a whole number > 0)"]),
        Case(name: "interval not a number", yaml: "sources:\n  - name: a\n    interval: soon\n    meters: [cpu]\n", errors: [
            "F:3:15: sources[0].interval: expected interval in seconds (a whole number), got 'soon'"]),
        Case(name: "interval zero", yaml: "sources:\n  - name: a\n    interval: 0\n    meters: [cpu]\n", errors: [
            "F:3:15: sources[0].interval: expected interval in seconds between 1 and 2147483647, got 0"]),
        Case(name: "missing meters", yaml: "sources:\n  - name: a\n    interval: 60\n", errors: [
            "F:2:5: sources[0]: Missing meters value (expected 'meters:' with a list of meter names or patterns)"]),
        Case(name: "empty meters", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: []\n", errors: [
            "F:4:13: sources[0].meters: No meters specified (expected a non-empty list of names or patterns)"]),
        Case(name: "include and exclude", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: [cpu, '!disk.*']\n", errors: [
            "F:4:13: sources[0].meters: Both included and excluded meters specified (expected either names to include, or '!'-prefixed names to exclude from everything, or \"*\" with exclusions; got 'cpu' with '!disk.*')"]),
        Case(name: "wildcard with includes", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: ['*', cpu]\n", errors: [
            "F:4:13: sources[0].meters: Included meters specified with wildcard (\"*\" already includes 'cpu'; remove them or remove \"*\")"]),
        Case(name: "resources not a list", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: [cpu]\n    resources: snmp://h1\n", errors: [
            "F:5:16: sources[0].resources: Resources should be a list (expected a list of resource URLs or names, got a scalar)"]),
        Case(name: "discovery not a list", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: [cpu]\n    discovery: local_instances\n", errors: [
            "F:5:16: sources[0].discovery: Discovery should be a list (expected a list of discovery names, got a scalar)"]),
        Case(name: "misspelt key", yaml: "sources:\n  - name: a\n    intervall: 60\n    interval: 60\n    meters: [cpu]\n", errors: [
            "F:3:5: sources[0].intervall: unknown key 'intervall' (did you mean 'interval'?); expected one of: name, interval, meters, resources, discovery"]),
        Case(name: "duplicate source", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: [cpu]\n  - name: a\n    interval: 30\n    meters: [vcpus]\n", errors: [
            "F:5:11: sources[1].name: duplicated source name 'a' (first at line 2); source names must be unique"]),
        Case(name: "bad indentation", yaml: "sources:\n  - name: a\n    interval: 60\n   meters: [cpu]\n", errors: [
            "F:4:4: invalid YAML: did not find expected '-' indicator (while parsing a block collection at 2:3)"]),
        Case(name: "duplicated key", yaml: "sources:\n  - name: a\n    interval: 60\n    interval: 30\n    meters: [cpu]\n", errors: [
            "F:3:5: duplicated key(s) 'interval' in one mapping; each key may appear once"]),
        Case(name: "meter not a string", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: [cpu, {x: 1}]\n", errors: [
            "F:4:19: sources[0].meters[1]: expected a non-empty string in the meters list, got a mapping"]),
        Case(name: "empty meter name", yaml: "sources:\n  - name: a\n    interval: 60\n    meters: [cpu, '']\n", errors: [
            "F:4:19: sources[0].meters[1]: expected a non-empty string in the meters list, got an empty string"]),
        Case(name: "root not a mapping", yaml: "- cpu\n- vcpus\n", errors: [
            "F:1:1: expected a polling file with a 'sources' list (a mapping), got a list"]),
    ]

    static let pipelineHead = "sources:\n  - name: s\n    meters: ['*']\n    sinks: [k]\n"
    static let pipeline: [Case] = [
        Case(name: "no sinks", yaml: pipelineHead, errors: [
            "F:1:1: Both sources & sinks are required (expected top-level 'sources' and 'sinks' lists; missing 'sinks')"]),
        Case(name: "dangling sink", yaml: "sources:\n  - name: s\n    meters: ['*']\n    sinks: [meter_snk]\nsinks:\n  - name: meter_sink\n    publishers: [file:///tmp/x]\n", errors: [
            "F:4:13: sources[0].sinks[0]: Dangling sink meter_snk from source s (no sink with that name in 'sinks' (did you mean 'meter_sink'?))"]),
        Case(name: "no publisher", yaml: pipelineHead + "sinks:\n  - name: k\n    publishers: []\n", errors: [
            "F:7:17: sinks[0].publishers: No publisher specified (expected at least one publisher URL, e.g. file:///var/log/nephometer/samples.log)"]),
        Case(name: "misspelt publisher scheme", yaml: pipelineHead + "sinks:\n  - name: k\n    publishers: [gnochi://]\n", errors: [
            "F:7:18: sinks[0].publishers[0]: unknown publisher scheme 'gnochi://' (did you mean 'gnocchi://'?); Nephometer publishes to file://, udp://, http://, https://, notifier://, gnocchi://"]),
        Case(name: "duplicate sink", yaml: pipelineHead + "sinks:\n  - name: k\n    publishers: [file:///tmp/x]\n  - name: k\n    publishers: [file:///tmp/y]\n", errors: [
            "F:8:11: sinks[1].name: Duplicated sink names: k (first at line 6); sink names must be unique"]),
        Case(name: "source without sinks", yaml: "sources:\n  - name: s\n    meters: ['*']\n    sinks: []\nsinks:\n  - name: k\n    publishers: [file:///tmp/x]\n", errors: [
            "F:4:12: sources[0].sinks: No sink defined in source s (expected at least one sink name)"]),
        Case(name: "unknown transformer", yaml: pipelineHead + "sinks:\n  - name: k\n    transformers:\n      - name: rate_of_chang\n        parameters: {}\n    publishers: [file:///tmp/x]\n", errors: [
            "F:8:15: sinks[0].transformers[0].name: No transformer named rate_of_chang loaded (did you mean 'rate_of_change'?); expected one of: unit_conversion, rate_of_change, delta, accumulator, aggregator, arithmetic"]),
        Case(name: "bad scale expression", yaml: pipelineHead + "sinks:\n  - name: k\n    transformers:\n      - name: unit_conversion\n        parameters:\n          target:\n            scale: 'volume * / 2'\n    publishers: [file:///tmp/x]\n", errors: [
            "F:11:20: sinks[0].transformers[0].parameters.target.scale: scale: cannot parse expression 'volume * / 2': unexpected '/' at character 10"]),
        Case(name: "file publisher without path", yaml: pipelineHead + "sinks:\n  - name: k\n    publishers: ['file://']\n", errors: [
            "F:7:18: sinks[0].publishers[0]: file publisher needs a path (file:///var/log/nephometer/samples.log)"]),
        Case(name: "file publisher bad max_bytes", yaml: pipelineHead + "sinks:\n  - name: k\n    publishers: ['file:///tmp/x?max_bytes=lots&backup_count=2']\n", errors: [
            "F:7:18: sinks[0].publishers[0]: max_bytes must be a whole number of bytes in 0…2^50, got 'lots'"]),
        Case(name: "file publisher unwritable", yaml: pipelineHead + "sinks:\n  - name: k\n    publishers: ['file:///etc/hostname/samples.log']\n", errors: [
            "F:7:18: sinks[0].publishers[0]: cannot create /etc/hostname/samples.log: /etc/hostname is not a directory"]),
        Case(name: "misspelt sink key", yaml: pipelineHead + "sinks:\n  - name: k\n    publisher: [file:///tmp/x]\n", errors: [
            "F:7:5: sinks[0].publisher: unknown key 'publisher' (did you mean 'publishers'?); expected one of: name, transformers, publishers",
            "F:6:5: sinks[0]: No publisher specified (expected 'publishers:' with a list of publisher URLs)"]),
        Case(name: "bad aggregator policy", yaml: pipelineHead + "sinks:\n  - name: k\n    transformers:\n      - name: aggregator\n        parameters:\n          user_id: newest\n    publishers: [file:///tmp/x]\n", errors: [
            "F:10:20: sinks[0].transformers[0].parameters.user_id: unknown user_id policy 'newest'; expected first or last"]),
        Case(name: "rotation needs both limits", yaml: pipelineHead + "sinks:\n  - name: k\n    publishers: ['file:///tmp/x?max_bytes=100']\n", errors: [
            "F:7:18: sinks[0].publishers[0]: rotation needs both max_bytes and backup_count (got only max_bytes)"]),
    ]

    static let agent: [Case] = [
        Case(name: "misspelt section", yaml: "pooling:\n  batch_size: 10\n", errors: [
            "F:1:1: pooling: unknown key 'pooling' (did you mean 'polling'?); expected one of: host, log_level, log_modules, polling, pipeline, publisher, coordination, metrics, shutdown_grace, messaging, ceilometer_config, service_credentials, compute, hardware"]),
        Case(name: "bad log level", yaml: "log_level: verbose\n", errors: [
            "F:1:12: log_level: unknown log level 'verbose'; expected one of: trace, debug, info, notice, warning, error, critical"]),
        Case(name: "negative batch size", yaml: "polling:\n  batch_size: -1\n", errors: [
            "F:2:15: polling.batch_size: expected batch_size between 0 and 1000000, got -1"]),
        Case(name: "jitter out of range", yaml: "polling:\n  jitter: 2\n", errors: [
            "F:2:11: polling.jitter: expected jitter (a fraction of the interval) between 0.0 and 1.0, got 2"]),
    ]

    func check(_ c: Case, kind: String, validate: (ConfigNode, Diagnostics) -> Bool) throws {
        let dir = TemporaryDirectory()
        let path = try dir.write("\(kind).yaml", c.yaml)
        let d = Diagnostics()
        var valid = false
        do {
            valid = validate(try ConfigNode.load(file: path), d)
        } catch {
            for e in error.errors { d.error(e) }
        }
        #expect(!valid, "\(c.name) must be rejected")
        #expect(d.errors.map(\.description) == c.errors.map { $0.replacingOccurrences(of: "F:", with: "\(path):") }, "\(c.name)")
    }

    @Test(arguments: polling) func brokenPollingFiles(_ c: Case) throws {
        try check(c, kind: "polling") { PollingConfig.validate($0, $1) != nil }
    }

    @Test(arguments: pipeline) func brokenPipelineFiles(_ c: Case) throws {
        try check(c, kind: "pipeline") { node, d in
            guard let p = PipelineConfig.validate(node, d) else { return false }
            PipelineBuilder.check(p, d)
            return d.errors.isEmpty
        }
    }

    @Test(arguments: agent) func brokenAgentConfigs(_ c: Case) throws {
        try check(c, kind: "nephometer") { AgentConfig.validate($0, $1, componentSections: ["compute", "hardware"]) != nil }
    }

    @Test func corpusHasAtLeastTwentyCases() {
        #expect(Self.polling.count + Self.pipeline.count + Self.agent.count >= 20)
    }

    @Test func missingFileNamesThePath() {
        #expect(throws: ConfigErrors.self) { try ConfigNode.load(file: "/nonexistent/polling.yaml") }
        do { _ = try ConfigNode.load(file: "/nonexistent/polling.yaml") } catch {
            #expect(error.errors.map(\.description) == ["/nonexistent/polling.yaml:0:0: cannot read file: no such file"])
        }
    }
}
