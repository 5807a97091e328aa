import Foundation
import Logging
import NephometerCompute
import NephometerConfig
import NephometerCoordination
import NephometerCore
import NephometerHardware
import NephometerPipeline
import NephometerPublishers

/// Builds what an agent runs from validated configuration: pollster families for the namespaces, the
/// pipeline, the polling manager.
public enum AgentRuntime {
    public static let namespaces = ["compute", "central"]

    /// Meter names each namespace provides.
    public static func meterNames(namespace: String) -> [String] {
        switch namespace {
        case "compute": return ComputeFamily.meterNames
        case "central": return HardwareFamily.meterNames
        default: return []
        }
    }

    /// Pollster families for `namespaces`, inspecting only meters some polling source selects.
    public static func families(namespaces: [String], config: LoadedConfig, logger: Logger) -> [any PollsterFamily] {
        var out: [any PollsterFamily] = []
        for ns in namespaces {
            let enabled = Set(meterNames(namespace: ns).filter { name in config.polling.sources.contains { $0.meters.matches(name) } })
            switch ns {
            case "compute":
                let a = config.agent
                out.append(ComputeFamily(options: .init(libvirtURI: a.libvirtURI, host: a.host,
                                                        reportStoppedInstanceMetrics: a.reportStoppedInstanceMetrics,
                                                        sampleSource: a.sampleSource, domainDeadline: a.domainDeadline),
                                         enabled: enabled, logger: logger))
            case "central":
                out.append(HardwareFamily(options: HardwareFamily.Options(), enabled: enabled, logger: logger))
            default:
                logger.warning("namespace '\(ns)' has no pollsters in this build")
            }
        }
        return out
    }

    public static func publisherContext(_ config: LoadedConfig) -> PublisherContext {
        let a = config.agent
        var delivery = DeliveryOptions(spoolMaxBytes: a.spoolMaxBytes, spoolMaxAge: a.spoolMaxAge,
                                       memoryBytes: a.publisherMemoryBytes, spoolAfter: a.spoolAfter)
        delivery.spoolHoldSeconds = a.spoolHoldSeconds
        return PublisherContext(telemetrySecret: a.telemetrySecret, spoolDirectory: a.spoolDirectory,
                                delivery: delivery, host: a.host)
    }

    public static func pipeline(_ config: LoadedConfig, reuse: Pipeline? = nil, logger: Logger) -> Result<Pipeline, ConfigErrors> {
        let longest = config.polling.sources.map(\.interval).max() ?? 600
        return PipelineBuilder.build(config.pipeline, context: publisherContext(config),
                                     options: .init(idleIntervals: 3, defaultInterval: Double(longest)),
                                     reuse: reuse, logger: logger)
    }

    /// The partitioner for `coordination.backend_url`, or nil without one.
    public static func partitioner(_ agent: AgentConfig, logger: Logger) throws(ConfigErrors) -> Partitioner? {
        guard let url = try coordinationURL(agent) else { return nil }
        return Partitioner(membership: url.open(logger: logger), logger: logger)
    }

    /// `coordination.backend_url` parsed, with an error at its position (the file's line and column,
    /// or `--coordination-url`).
    public static func coordinationURL(_ agent: AgentConfig) throws(ConfigErrors) -> CoordinationURL? {
        guard let raw = agent.coordinationURL else { return nil }
        do {
            return try CoordinationURL(raw)
        } catch {
            let p = agent.coordinationURLPosition
            throw ConfigErrors([ConfigError(file: p?.file ?? "--coordination-url", line: p?.line ?? 0, column: p?.column ?? 0,
                                            keyPath: "coordination.backend_url", message: error.description)])
        }
    }

    /// Group name prefix as Ceilometer forms it: sorted namespaces joined by `-`, then the optional prefix.
    public static func groupPrefix(namespaces: [String], config: AgentConfig) -> String {
        let ns = Set(namespaces).sorted().joined(separator: "-")
        return config.partitioningGroupPrefix.map { "\(ns)-\($0)" } ?? ns
    }

    /// The result of `nephometer validate`.
    public struct Validation: Sendable {
        public var errors: [ConfigError]
        public var warnings: [ConfigWarning]
        public var summary: String
    }

    /// Everything `validate` checks: the three files, transformer parameters and publisher URLs.
    public static func validate(agentConfigFile: String?, overrides: ConfigOverrides) -> Validation {
        switch ConfigLoader.load(agentConfigFile: agentConfigFile, overrides: overrides) {
        case .failure(let e):
            return Validation(errors: e.errors, warnings: [], summary: "")
        case .success(let c):
            let d = Diagnostics()
            PipelineBuilder.check(c.pipeline, d)
            do { _ = try coordinationURL(c.agent) } catch { for e in error.errors { d.error(e) } }
            let transformers = c.pipeline.sinks.reduce(0) { $0 + $1.transformers.count }
            let publishers = c.pipeline.sinks.reduce(0) { $0 + $1.publishers.count }
            let known = Set(namespaces.flatMap(meterNames(namespace:)))
            let selected = known.filter { m in c.polling.sources.contains { $0.meters.matches(m) } }.count
            let summary = "valid: \(c.polling.file): \(c.polling.sources.count) polling source(s), \(selected) meter(s) selected; \(c.pipeline.file): \(c.pipeline.sources.count) source(s), \(c.pipeline.sinks.count) sink(s), \(transformers) transformer(s), \(publishers) publisher(s)"
            return Validation(errors: d.errors, warnings: c.warnings + d.warnings, summary: summary)
        }
    }
}
