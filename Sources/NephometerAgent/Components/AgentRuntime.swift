import Foundation
import Logging
import NephometerCompute
import NephometerConfig
import NephometerCoordination
import NephometerCore
import NephometerHardware
import NephometerPipeline
import NephometerPublishers
import NIOSSL
import Synchronization

/// Pollster family kinds by namespace.
public enum FamilyRegistry {
    /// The families this build has.
    public static let builtins: [any PollsterFamilyKind] = [ComputeFamilyKind(), HardwareFamilyKind()]
    private static let kinds = Mutex<[any PollsterFamilyKind]>(builtins)

    /// Adds (or replaces) the kind of its namespace.
    public static func register(_ kind: any PollsterFamilyKind) {
        kinds.withLock { k in
            k.removeAll { $0.namespace == kind.namespace }
            k.append(kind)
        }
    }
    public static var all: [any PollsterFamilyKind] { kinds.withLock { $0 } }
    public static func kind(namespace: String) -> (any PollsterFamilyKind)? { all.first { $0.namespace == namespace } }
    public static var namespaces: [String] { all.map(\.namespace) }
    /// nephometer.yaml sections owned by families.
    public static var sections: [String] { all.map(\.section) }
}

/// Everything one set of configuration files means, validated: what `validate`, start-up and reload
/// all get from `AgentRuntime.load`, so the three accept exactly the same files.
public struct Blueprint: Sendable {
    public var config: LoadedConfig
    /// Every family's options, by namespace (also those not run: `validate` checks them all).
    public var familyOptions: [String: any FamilyOptions]
    /// `coordination.backend_url`, parsed.
    public var coordination: CoordinationURL?
    /// The exporter's TLS settings, its PEM files read (nil: plain HTTP or no exporter).
    public var exporterTLS: TLSConfiguration?

    /// Meter names of a namespace that some polling source selects.
    public func enabled(_ namespace: String) -> Set<String> {
        let names = FamilyRegistry.kind(namespace: namespace)?.meterNames ?? []
        return Set(names.filter { name in config.polling.sources.contains { $0.meters.matches(name) } })
    }
}

/// Builds what an agent runs from validated configuration.
public enum AgentRuntime {
    public static var namespaces: [String] { FamilyRegistry.namespaces }

    /// Meter names each namespace provides.
    public static func meterNames(namespace: String) -> [String] { FamilyRegistry.kind(namespace: namespace)?.meterNames ?? [] }

    /// Loads and validates every file and section: the agent config, polling.yaml, pipeline.yaml (with
    /// its transformers and publisher URLs), each family's section, the coordination URL. Blocking
    /// (file reads): call it off the cooperative pool, e.g. through `BlockingQueue`.
    public static func load(agentConfigFile: String?, overrides: ConfigOverrides) -> Result<Blueprint, ConfigErrors> {
        let c: LoadedConfig
        switch ConfigLoader.load(agentConfigFile: agentConfigFile, overrides: overrides, componentSections: FamilyRegistry.sections) {
        case .failure(let e): return .failure(e)
        case .success(let loaded): c = loaded
        }
        let d = Diagnostics()
        var options: [String: any FamilyOptions] = [:]
        for kind in FamilyRegistry.all {
            if let o = kind.options(c.agent.sections[kind.section], agent: c.agent, overrides: overrides, d) { options[kind.namespace] = o }
        }
        PipelineBuilder.check(c.pipeline, d, context: publisherContext(c))
        checkBus(c.agent, d)
        var tls: TLSConfiguration?
        do { tls = try exporterTLS(c.agent) } catch { for e in error.errors { d.error(e) } }
        var coordination: CoordinationURL?
        do { coordination = try coordinationURL(c.agent) } catch { for e in error.errors { d.error(e) } }
        guard d.errors.isEmpty else { return .failure(ConfigErrors(d.errors)) }
        var config = c
        config.warnings += d.warnings
        return .success(Blueprint(config: config, familyOptions: options, coordination: coordination, exporterTLS: tls))
    }

    /// Pollster families for `namespaces`. A family whose options did not change is reused (and told
    /// the meters now enabled), keeping its state; `reuse` holds the running ones.
    public static func families(_ b: Blueprint, namespaces: [String], reuse: [String: any PollsterFamily] = [:],
                                reusedOptions: [String: any FamilyOptions] = [:], logger: Logger) async -> [String: any PollsterFamily] {
        var out: [String: any PollsterFamily] = [:]
        for ns in namespaces {
            guard let kind = FamilyRegistry.kind(namespace: ns), let options = b.familyOptions[ns] else {
                logger.warning("namespace '\(ns)' has no pollsters in this build")
                continue
            }
            if let running = reuse[ns], let old = reusedOptions[ns], old.same(as: options) {
                await running.reconfigure(enabled: b.enabled(ns))
                out[ns] = running
            } else {
                var l = logger
                l[metadataKey: "namespace"] = "\(ns)"
                out[ns] = kind.make(options, enabled: b.enabled(ns), logger: l)
            }
        }
        return out
    }

    public static func publisherContext(_ config: LoadedConfig) -> PublisherContext {
        let a = config.agent
        var delivery = DeliveryOptions(spoolMaxBytes: a.spoolMaxBytes, spoolMaxAge: a.spoolMaxAge,
                                       memoryBytes: a.publisherMemoryBytes, spoolAfter: a.spoolAfter)
        delivery.spoolHoldSeconds = a.spoolHoldSeconds
        var context = PublisherContext(telemetrySecret: a.telemetrySecret, spoolDirectory: a.spoolDirectory,
                                       delivery: delivery, host: a.host, messaging: a.messaging)
        context.serviceCredentials = a.serviceCredentials
        context.configDirectory = (a.ceilometerConfigFile ?? config.pipeline.file).map { ($0 as NSString).deletingLastPathComponent }
        return context
    }

    /// The transport URL and TLS files of the notification bus, checked as start-up uses them.
    static func checkBus(_ a: AgentConfig, _ d: Diagnostics) {
        guard let raw = a.messaging.transportURL else { return }
        do {
            _ = try TransportURL(raw, ssl: a.messaging.ssl)
        } catch {
            let p = a.messagingPosition
            d.error(ConfigError(file: p?.file ?? "--transport-url", line: p?.line ?? 0, column: p?.column ?? 0,
                                keyPath: "messaging.transport_url", message: error.description))
        }
    }

    /// The TLS server settings of Ceilometer's exporter, or nil when it serves plain HTTP. As Ceilometer,
    /// TLS needs both files; each is read here (blocking, within `load`), so `validate` names one that
    /// cannot be loaded.
    public static func exporterTLS(_ a: AgentConfig) throws(ConfigErrors) -> TLSConfiguration? {
        guard a.prometheusExporter, a.prometheusTLS else { return nil }
        let p = a.prometheusTLSPosition
        func failure(_ message: String) -> ConfigErrors {
            ConfigErrors([ConfigError(file: p?.file ?? "(defaults)", line: p?.line ?? 0, column: p?.column ?? 0,
                                      keyPath: "polling.prometheus_tls_enable", message: message)])
        }
        guard let certFile = a.prometheusTLSCertFile, let keyFile = a.prometheusTLSKeyFile else {
            throw failure("prometheus_tls_enable is true but prometheus_tls_certfile and prometheus_tls_keyfile are not both set")
        }
        let chain: [NIOSSLCertificate], key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certFile) } catch {
            throw failure("cannot load the exporter's certificate (prometheus_tls_certfile) \(certFile): \(error)")
        }
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw failure("cannot load the exporter's private key (prometheus_tls_keyfile) \(keyFile): \(error)")
        }
        guard !chain.isEmpty else { throw failure("prometheus_tls_certfile \(certFile) holds no PEM certificate") }
        let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // A key that does not belong to the certificate fails here, not when the server starts.
        do { _ = try NIOSSLContext(configuration: tls) } catch {
            throw failure("prometheus_tls_certfile \(certFile) and prometheus_tls_keyfile \(keyFile) do not make a TLS server: \(error)")
        }
        return tls
    }

    /// The agent's notification bus (every polled sample, as ceilometer-polling sends it), or nil
    /// without a transport URL or with notifications off.
    public static func bus(_ config: LoadedConfig, logger: Logger) throws(ConfigErrors) -> NotifierPublisher? {
        do {
            return try NotifierPublisher.bus(config.agent.messaging, context: publisherContext(config), logger: logger)
        } catch {
            let p = config.agent.messagingPosition
            throw ConfigErrors([ConfigError(file: p?.file ?? "--transport-url", line: p?.line ?? 0, column: p?.column ?? 0,
                                            keyPath: "messaging.transport_url", message: error.description)])
        }
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
        var l = logger
        l[metadataKey: "coordination"] = "\(url.redacted)"
        return Partitioner(membership: url.open(logger: l), logger: l)
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

    /// Everything `validate` checks: `load`, plus warnings about SNMP resource URLs that would be
    /// skipped when polled.
    public static func validate(agentConfigFile: String?, overrides: ConfigOverrides) -> Validation {
        switch load(agentConfigFile: agentConfigFile, overrides: overrides) {
        case .failure(let e):
            return Validation(errors: e.errors, warnings: [], summary: "")
        case .success(let b):
            let c = b.config
            var warnings = c.warnings
            for source in c.polling.sources {
                for r in source.resources where r.lowercased().hasPrefix("snmp://") {
                    do { _ = try SNMPTarget(url: r) } catch {
                        warnings.append(ConfigWarning(file: source.position.file, line: source.position.line, column: source.position.column,
                                                      keyPath: "sources.\(source.name).resources", message: "\(error); polling skips it"))
                    }
                }
            }
            let transformers = c.pipeline.sinks.reduce(0) { $0 + $1.transformers.count }
            let publishers = c.pipeline.sinks.reduce(0) { $0 + $1.publishers.count }
            let known = Set(namespaces.flatMap(meterNames(namespace:)))
            let selected = known.filter { m in c.polling.sources.contains { $0.meters.matches(m) } }.count
            let summary = "valid: \(c.polling.file): \(c.polling.sources.count) polling source(s), \(selected) meter(s) selected; \(c.pipeline.file): \(c.pipeline.sources.count) source(s), \(c.pipeline.sinks.count) sink(s), \(transformers) transformer(s), \(publishers) publisher(s)"
            var bus = ""
            let m = c.agent.messaging
            if let raw = m.transportURL, m.enableNotifications, let url = try? TransportURL(raw, ssl: m.ssl) {
                bus = "; notification bus \(url.redacted) exchange \(m.exchange) routing keys \(m.topics.map { "\($0).sample" }.joined(separator: ", "))"
            }
            return Validation(errors: [], warnings: warnings, summary: summary + bus)
        }
    }
}
