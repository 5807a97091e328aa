import ArgumentParser
import Foundation
import Logging
import NephometerAgent
import NephometerConfig
import NephometerCore

/// Options shared by `agent` and `poll`: file locations and values that override the agent config.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Agent config file (default: etc/nephometer.yaml, then /etc/nephometer/nephometer.yaml).")
    var config: String?
    @Option(help: "polling.yaml to use instead of the one the agent config names.")
    var polling: String?
    @Option(help: "pipeline.yaml to use instead of the one the agent config names.")
    var pipeline: String?
    @Option(name: .customLong("libvirt-uri"), help: "libvirt URI (e.g. qemu:///system, test:///abs/path/node.xml).")
    var libvirtURI: String?
    @Option(help: "Host name used for compute grouping and instance_host.")
    var host: String?
    @Option(help: "Telemetry secret for message signatures.")
    var secret: String?
    @Option(name: .customLong("coordination-url"), help: "Group membership backend: file:///dir or etcd3+http://host:port[?timeout=S]; '' disables partitioning.")
    var coordinationURL: String?
    @Option(name: .customLong("spool-dir"), help: "Directory where network publishers spool undelivered batches.")
    var spoolDir: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?
    @Option(name: .customLong("ceilometer-config"), help: "The operator's ceilometer.conf: transport, secret, polling.yaml, batch size, coordination (nephometer.yaml and flags override it).")
    var ceilometerConfig: String?
    @Option(name: .customLong("transport-url"), help: "Notification bus: rabbit://user:pass@host:5672[,user:pass@host2:5672]/vhost; '' turns it off.")
    var transportURL: String?

    var overrides: ConfigOverrides {
        var o = ConfigOverrides(pollingFile: polling, pipelineFile: pipeline, libvirtURI: libvirtURI, host: host,
                                secret: secret, spoolDirectory: spoolDir, coordinationURL: coordinationURL, logLevel: logLevel.flatMap { AgentConfig.LogLevel(rawValue: $0.lowercased()) })
        o.ceilometerConfig = ceilometerConfig
        o.transportURL = transportURL
        return o
    }

    func validateLogLevel() throws {
        if let l = logLevel, AgentConfig.LogLevel(rawValue: l.lowercased()) == nil {
            throw ValidationError("unknown log level '\(l)'; expected one of \(AgentConfig.LogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    var configFile: String? { ConfigLoader.agentConfigPath(explicit: config) }

    /// Loads and validates every file and section (the function `validate` and reload use too),
    /// printing errors to stderr; exits 1 on errors. File reads run off the cooperative pool.
    func load() async throws -> Blueprint {
        try validateLogLevel()
        let file = configFile, overrides = self.overrides
        switch await BlockingQueue(label: "nephometer.config").run({ AgentRuntime.load(agentConfigFile: file, overrides: overrides) }) {
        case .success(let b):
            return b
        case .failure(let e):
            Stderr.write("configuration is invalid:\n\(e)\n")
            throw ExitCode(1)
        }
    }
}

struct NamespaceOption: ParsableArguments {
    @Option(name: .customLong("namespaces"), parsing: .upToNextOption,
            help: "Polling namespaces: compute, central (several allowed, comma or space separated).")
    var namespaces: [String] = ["compute", "central"]

    func resolved() throws -> [String] {
        let list = namespaces.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        for n in list where !AgentRuntime.namespaces.contains(n) {
            throw ValidationError("unknown namespace '\(n)'; expected \(AgentRuntime.namespaces.joined(separator: " or "))")
        }
        var seen: [String] = []
        for n in list where !seen.contains(n) { seen.append(n) }
        return seen
    }
}

enum Stderr {
    static func write(_ s: String) {
        FileHandle.standardError.write(s.data(using: .utf8) ?? Data())
    }
}

enum Logs {
    /// Logs go to stderr, so stdout carries only samples. `modules` raise or lower single modules'
    /// levels (`log_modules` in nephometer.yaml).
    static func bootstrap(_ level: AgentConfig.LogLevel, modules: [String: AgentConfig.LogLevel] = [:]) -> Logger {
        let l = Logger.Level(rawValue: level.rawValue) ?? .info
        let perModule = modules.compactMapValues { Logger.Level(rawValue: $0.rawValue) }
        LoggingSystem.bootstrap { label in KeyValueLogHandler(label: label, level: l, modules: perModule) }
        var logger = Logger(label: "nephometer")
        logger.logLevel = min(l, perModule.values.min() ?? l)
        return logger
    }
}
