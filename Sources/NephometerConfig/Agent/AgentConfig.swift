import NephometerCore
import Foundation

/// The agent's own settings (`etc/nephometer.yaml`). Every option is documented in that sample file.
public struct AgentConfig: Sendable, Hashable {
    public enum LogLevel: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// Name of this host: the compute partition group and `instance_host` metadata.
    public var host: String
    public var logLevel: LogLevel
    /// polling.yaml path (relative paths are resolved against the agent config's directory).
    public var pollingFile: String
    /// pipeline.yaml path.
    public var pipelineFile: String
    /// Samples handed to the pipeline per batch (0 = one at a time).
    public var batchSize: Int
    /// Fraction of a source's interval used as the random offset of its first run (0 = no jitter).
    public var jitter: Double
    /// Secret for message signatures (`[publisher] telemetry_secret`).
    public var telemetrySecret: String
    /// Where network publishers spool undelivered batches.
    public var spoolDirectory: String
    /// Fixed upper bound of each publisher's spool, in bytes; nil = automatic (`spoolHoldSeconds` of
    /// the publisher's measured output, at least 256 MiB).
    public var spoolMaxBytes: Int?
    /// With the automatic bound: how many seconds of output a spool must hold.
    public var spoolHoldSeconds: Double
    /// Spooled batches older than this many seconds are dropped.
    public var spoolMaxAge: Double
    /// Memory each network publisher may use for waiting batches.
    public var publisherMemoryBytes: Int
    /// Seconds a batch may wait undelivered in memory before it is written to the spool.
    public var spoolAfter: Double
    /// Group membership backend URL (none = no partitioning).
    public var coordinationURL: String?
    /// Where `coordination.backend_url` was set, for errors about it (nil: the command line).
    public var coordinationURLPosition: Position?
    /// Optional prefix of partitioning group names.
    public var partitioningGroupPrefix: String?
    /// Samples the queue between polling and the pipeline holds, and what happens when it is full.
    public var queueMaxSamples: Int
    public var queueFull: QueueFullPolicy
    /// `host:port` to serve `/metrics`, `/healthz` and `/status` on (nil: off).
    public var metricsListen: String?
    /// Seconds a graceful stop may take before the running work is cancelled.
    public var shutdownGrace: Double
    /// Ceilometer's `[polling] heartbeat_socket_dir`: a UNIX socket there tells each pollster's last poll.
    public var heartbeatSocketDirectory: String?
    /// Log levels of single modules (`NephometerCompute: debug`), over `log_level`.
    public var moduleLogLevels: [String: LogLevel]
    /// Sections owned by components (pollster families: `compute`, `hardware`), validated by them.
    public var sections: [String: ConfigNode]
    /// The notification bus (`messaging:`; ceilometer.conf's transport and oslo.messaging options).
    public var messaging: MessagingSettings
    /// Keystone (or gnocchi-basic / -noauth) credentials of the Gnocchi publisher (`service_credentials:`).
    public var serviceCredentials: ServiceCredentials
    /// Where the transport URL was set, for errors about it.
    public var messagingPosition: Position?
    /// The operator's ceilometer.conf (`ceilometer_config`, `--ceilometer-config`), applied under this file.
    public var ceilometerConfigFile: String?
    /// ceilometer.conf's `[DEFAULT] libvirt_uri` (the compute section and `--libvirt-uri` override it).
    public var libvirtURI: String?
    /// Ceilometer's exporter: `[polling] enable_prometheus_exporter` and `prometheus_listen_addresses`.
    public var prometheusExporter: Bool
    public var prometheusListen: [String]
    /// `prometheus_tls_enable`, `prometheus_tls_certfile`, `prometheus_tls_keyfile`: the exporter serves
    /// HTTPS with this PEM certificate chain and key. Where TLS was turned on, for errors about it.
    public var prometheusTLS: Bool
    public var prometheusTLSCertFile: String?
    public var prometheusTLSKeyFile: String?
    public var prometheusTLSPosition: Position?
    /// True when pipeline.yaml was named (in this file or on the command line): then it must exist.
    /// Otherwise, with the notification bus on, there is no pipeline when a ceilometer.conf is used or
    /// pipeline.yaml does not exist, as `ceilometer-polling` has none.
    public var pipelineFileExplicit: Bool

    public enum QueueFullPolicy: String, Sendable, Hashable, CaseIterable {
        /// Drop the oldest waiting batches (keep what was polled last).
        case dropOldest = "drop_oldest"
        /// Drop the new batch.
        case dropNewest = "drop_newest"
        /// Make polling wait (a slow publisher then delays polls).
        case block
    }

    public static let defaultSecret = "change this for valid signing"

    public init(host: String = AgentConfig.systemHostName(), logLevel: LogLevel = .info,
                pollingFile: String = "etc/polling.yaml", pipelineFile: String = "pipeline.yaml",
                batchSize: Int = 50, jitter: Double = 0.1, telemetrySecret: String = AgentConfig.defaultSecret,
                spoolDirectory: String = "/var/lib/nephometer/spool", spoolMaxBytes: Int? = nil,
                spoolHoldSeconds: Double = 7_200, spoolMaxAge: Double = 86_400,
                publisherMemoryBytes: Int = 64 << 20, spoolAfter: Double = 1,
                coordinationURL: String? = nil, partitioningGroupPrefix: String? = nil) {
        self.host = host
        self.logLevel = logLevel
        self.pollingFile = pollingFile
        self.pipelineFile = pipelineFile
        self.batchSize = batchSize
        self.jitter = jitter
        self.telemetrySecret = telemetrySecret
        self.spoolDirectory = spoolDirectory
        self.spoolMaxBytes = spoolMaxBytes
        self.spoolHoldSeconds = spoolHoldSeconds
        self.spoolMaxAge = spoolMaxAge
        self.publisherMemoryBytes = publisherMemoryBytes
        self.spoolAfter = spoolAfter
        self.coordinationURL = coordinationURL
        self.partitioningGroupPrefix = partitioningGroupPrefix
        queueMaxSamples = 100_000
        queueFull = .dropOldest
        metricsListen = nil
        shutdownGrace = 10
        heartbeatSocketDirectory = nil
        moduleLogLevels = [:]
        sections = [:]
        messaging = MessagingSettings()
        serviceCredentials = ServiceCredentials()
        messagingPosition = nil
        ceilometerConfigFile = nil
        libvirtURI = nil
        prometheusExporter = false
        prometheusListen = ["127.0.0.1:9101"]
        prometheusTLS = false
        prometheusTLSCertFile = nil
        prometheusTLSKeyFile = nil
        prometheusTLSPosition = nil
        pipelineFileExplicit = false
    }

    public static func systemHostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "localhost" }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static let rootKeys = ["host", "log_level", "log_modules", "polling", "pipeline", "publisher", "coordination", "metrics",
                           "shutdown_grace", "messaging", "ceilometer_config", "service_credentials"]
    static let messagingKeys = ["transport_url", "enable_notifications", "topics", "control_exchange", "durable_queues", "auto_delete",
                                "quorum_queues", "ha_queues", "heartbeat", "ssl", "ssl_ca_file", "ssl_cert_file", "ssl_key_file", "timeout"]
    static let pollingKeys = ["cfg_file", "batch_size", "jitter", "heartbeat_socket_dir", "enable_prometheus_exporter", "prometheus_listen_addresses",
                              "prometheus_tls_enable", "prometheus_tls_certfile", "prometheus_tls_keyfile"]
    static let pipelineKeys = ["cfg_file", "queue_max_samples", "queue_full"]
    static let metricsKeys = ["listen"]
    static let publisherKeys = ["telemetry_secret", "spool_directory", "spool_max_bytes", "spool_hold", "spool_max_age",
                                "memory_max_bytes", "spool_after"]
    static let coordinationKeys = ["backend_url", "partitioning_group_prefix"]

    /// Validates a parsed agent config. Relative file paths are resolved against the file's directory.
    /// `componentSections` are the keys components own (pollster families' sections): kept as nodes
    /// for them to validate.
    public static func validate(_ root: ConfigNode, _ d: Diagnostics, componentSections: [String] = [], base: AgentConfig = AgentConfig()) -> AgentConfig? {
        let before = d.errors.count
        var c = base
        guard let _ = root.expectMapping("agent settings", d) else { return nil }
        root.checkKeys(rootKeys + componentSections, d)
        for key in componentSections { if let n = root[key], !n.isNull { c.sections[key] = n } }
        let baseDir = (root.position.file as NSString).deletingLastPathComponent
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") || baseDir.isEmpty ? path : (baseDir as NSString).appendingPathComponent(path)
        }
        if let n = root["host"], let v = n.expectString("the host name", d) { c.host = v }
        if let n = root["log_level"], let v = n.expectString("a log level", d) {
            if let level = LogLevel(rawValue: v.lowercased()) { c.logLevel = level }
            else { d.error(n, "unknown log level '\(v)'\(Suggestion.hint(for: v, in: LogLevel.allCases.map(\.rawValue))); expected one of: \(LogLevel.allCases.map(\.rawValue).joined(separator: ", "))") }
        }
        if let section = root["polling"], !section.isNull, let _ = section.expectMapping("polling settings", d) {
            section.checkKeys(pollingKeys, d)
            if let n = section["cfg_file"], let v = n.expectString("a path to polling.yaml", d) { c.pollingFile = resolve(v) }
            if let n = section["batch_size"], let v = n.expectInt("batch_size", d, in: 0...1_000_000) { c.batchSize = v; c.messaging.batchSize = max(1, v) }
            if let n = section["jitter"], let v = n.expectDouble("jitter (a fraction of the interval)", d, in: 0...1) { c.jitter = v }
            if let n = section["enable_prometheus_exporter"], let v = n.expectBool("enable_prometheus_exporter", d) { c.prometheusExporter = v }
            if let n = section["prometheus_listen_addresses"], let items = n.expectStringList("a list of host:port", d) {
                for a in items { if let problem = ListenAddress.problem(a) { d.error(n, problem) } }
                c.prometheusListen = items
            }
            if let n = section["prometheus_tls_enable"], let v = n.expectBool("prometheus_tls_enable", d) { c.prometheusTLS = v; c.prometheusTLSPosition = n.position }
            if let n = section["prometheus_tls_certfile"], let v = n.expectString("a PEM certificate file", d) { c.prometheusTLSCertFile = resolve(v) }
            if let n = section["prometheus_tls_keyfile"], let v = n.expectString("a PEM private key file", d) { c.prometheusTLSKeyFile = resolve(v) }
            if let n = section["heartbeat_socket_dir"], !n.isNull, let v = n.expectString("a directory for the heartbeat socket", d) {
                c.heartbeatSocketDirectory = resolve(v)
            }
        }
        if let section = root["pipeline"], !section.isNull, let _ = section.expectMapping("pipeline settings", d) {
            section.checkKeys(pipelineKeys, d)
            if let n = section["cfg_file"], let v = n.expectString("a path to pipeline.yaml", d) { c.pipelineFile = resolve(v); c.pipelineFileExplicit = true }
            if let n = section["queue_max_samples"], let v = n.expectInt("queue_max_samples", d, in: 1...100_000_000) { c.queueMaxSamples = v }
            if let n = section["queue_full"], let v = n.expectString("queue_full", d) {
                if let p = QueueFullPolicy(rawValue: v) { c.queueFull = p }
                else { d.error(n, "unknown queue_full policy '\(v)'\(Suggestion.hint(for: v, in: QueueFullPolicy.allCases.map(\.rawValue))); expected one of: \(QueueFullPolicy.allCases.map(\.rawValue).joined(separator: ", "))") }
            }
        }
        if let section = root["metrics"], !section.isNull, let _ = section.expectMapping("metrics settings", d) {
            section.checkKeys(metricsKeys, d)
            if let n = section["listen"], !n.isNull, let v = n.expectString("metrics.listen (host:port)", d) {
                if let problem = ListenAddress.problem(v) { d.error(n, problem) } else { c.metricsListen = v }
            }
        }
        if let n = root["shutdown_grace"], let v = n.expectDouble("shutdown_grace in seconds", d, in: 0...3_600) { c.shutdownGrace = v }
        if let section = root["log_modules"], !section.isNull, let entries = section.expectMapping("per-module log levels", d) {
            for (k, v) in entries {
                guard let module = k.scalar, let level = v.expectString("a log level", d) else { continue }
                if let l = LogLevel(rawValue: level.lowercased()) { c.moduleLogLevels[module] = l }
                else { d.error(v, "unknown log level '\(level)'; expected one of: \(LogLevel.allCases.map(\.rawValue).joined(separator: ", "))") }
            }
        }
        if let section = root["publisher"], !section.isNull, let _ = section.expectMapping("publisher settings", d) {
            section.checkKeys(publisherKeys, d)
            if let n = section["telemetry_secret"], let v = n.expectString("the telemetry secret", d, allowEmpty: true) { c.telemetrySecret = v }
            if let n = section["spool_directory"], let v = n.expectString("a spool directory", d) { c.spoolDirectory = resolve(v) }
            if let n = section["spool_max_bytes"] {
                if n.scalar == "auto" { c.spoolMaxBytes = nil }
                else if let v = n.expectInt("spool_max_bytes (bytes, or auto)", d, in: 65_536...(1 << 50)) { c.spoolMaxBytes = v }
            }
            if let n = section["spool_hold"], let v = n.expectDouble("spool_hold in seconds", d, in: 60...(30 * 86_400)) { c.spoolHoldSeconds = v }
            if let n = section["spool_max_age"], let v = n.expectDouble("spool_max_age in seconds", d, in: 1...(366 * 86_400)) { c.spoolMaxAge = v }
            if let n = section["memory_max_bytes"], let v = n.expectInt("memory_max_bytes", d, in: 65_536...(1 << 40)) { c.publisherMemoryBytes = v }
            if let n = section["spool_after"], let v = n.expectDouble("spool_after in seconds", d, in: 0...3_600) { c.spoolAfter = v }
        }
        if let section = root["messaging"], !section.isNull, let _ = section.expectMapping("messaging settings", d) {
            section.checkKeys(messagingKeys, d)
            var m = c.messaging
            if let n = section["transport_url"], !n.isNull, let v = n.expectString("a transport URL (rabbit://user:pass@host:5672/)", d) {
                m.transportURL = v
                c.messagingPosition = n.position
            }
            if let n = section["enable_notifications"], let v = n.expectBool("enable_notifications", d) { m.enableNotifications = v }
            if let n = section["topics"], let items = n.expectStringList("a list of topics", d) {
                if items.isEmpty { d.error(n, "names no topic") } else { m.topics = items }
            }
            if let n = section["control_exchange"], let v = n.expectString("an exchange name", d) { m.exchange = v }
            if let n = section["durable_queues"], let v = n.expectBool("durable_queues", d) { m.durableQueues = v }
            if let n = section["auto_delete"], let v = n.expectBool("auto_delete", d) { m.autoDelete = v }
            if let n = section["quorum_queues"], let v = n.expectBool("quorum_queues", d) { m.quorumQueues = v }
            if let n = section["ha_queues"], let v = n.expectBool("ha_queues", d) { m.haQueues = v }
            if let n = section["heartbeat"], let v = n.expectInt("heartbeat in seconds", d, in: 0...3_600) { m.heartbeat = v }
            if let n = section["ssl"], let v = n.expectBool("ssl", d) { m.ssl = v }
            if let n = section["ssl_ca_file"], !n.isNull, let v = n.expectString("a CA file", d) { m.sslCAFile = resolve(v) }
            if let n = section["ssl_cert_file"], !n.isNull, let v = n.expectString("a certificate file", d) { m.sslCertFile = resolve(v) }
            if let n = section["ssl_key_file"], !n.isNull, let v = n.expectString("a key file", d) { m.sslKeyFile = resolve(v) }
            if let n = section["timeout"], let v = n.expectDouble("timeout in seconds", d, in: 0.1...600) { m.timeout = v }
            c.messaging = m
        }
        if let section = root["service_credentials"], !section.isNull, let entries = section.expectMapping("service credentials", d) {
            var map: [String: String] = [:]
            for (k, v) in entries {
                guard let key = k.scalar else { continue }
                guard ServiceCredentials.keys.contains(key) else {
                    d.error(k, "unknown key '\(key)'\(Suggestion.hint(for: key, in: ServiceCredentials.keys)); expected one of: \(ServiceCredentials.keys.joined(separator: ", "))")
                    continue
                }
                if let text = v.expectString(key, d, allowEmpty: true) { map[key] = text }
            }
            if let problem = c.serviceCredentials.apply(map) { d.error(section, problem) }
        }
        if let section = root["coordination"], !section.isNull, let _ = section.expectMapping("coordination settings", d) {
            section.checkKeys(coordinationKeys, d)
            if let n = section["backend_url"], !n.isNull, let v = n.expectString("a coordination backend URL", d) {
                c.coordinationURL = v
                c.coordinationURLPosition = n.position
            }
            if let n = section["partitioning_group_prefix"], !n.isNull, let v = n.expectString("a group name prefix", d) { c.partitioningGroupPrefix = v }
        }
        guard d.errors.count == before else { return nil }
        return c
    }
}

/// A `host:port` to listen on (IPv6 in brackets).
public enum ListenAddress {
    public static func split(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }

    public static func problem(_ text: String) -> String? {
        split(text) == nil ? "expected host:port (127.0.0.1:9101), got '\(text.prefix(80))'" : nil
    }
}
