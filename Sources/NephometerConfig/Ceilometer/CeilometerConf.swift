import Foundation
import NephometerCore

/// The keys of an operator's `ceilometer.conf` that Nephometer uses, applied under nephometer.yaml
/// and the command line (which override them). Every other key is ignored: a Ceilometer file has
/// hundreds. A bad value in a key we use is an error at its line and column.
public enum CeilometerConf {
    /// `section.key` → what it sets, for the README and `validate`.
    public static let used: [String] = [
        "DEFAULT.host", "DEFAULT.transport_url", "DEFAULT.control_exchange", "DEFAULT.libvirt_uri",
        "publisher.telemetry_secret",
        "polling.cfg_file", "polling.batch_size", "polling.enable_notifications", "polling.enable_prometheus_exporter",
        "polling.prometheus_listen_addresses", "polling.prometheus_tls_enable", "polling.prometheus_tls_certfile",
        "polling.prometheus_tls_keyfile", "polling.heartbeat_socket_dir", "polling.partitioning_group_prefix",
        "coordination.backend_url",
        "oslo_messaging_notifications.transport_url", "oslo_messaging_notifications.topics", "oslo_messaging_notifications.driver",
        "oslo_messaging_rabbit.amqp_durable_queues", "oslo_messaging_rabbit.amqp_auto_delete", "oslo_messaging_rabbit.rabbit_quorum_queue",
        "oslo_messaging_rabbit.rabbit_ha_queues", "oslo_messaging_rabbit.rabbit_quorum_delivery_limit",
        "oslo_messaging_rabbit.heartbeat_timeout_threshold", "oslo_messaging_rabbit.ssl", "oslo_messaging_rabbit.ssl_ca_file",
        "oslo_messaging_rabbit.ssl_cert_file", "oslo_messaging_rabbit.ssl_key_file",
        "service_credentials.*",
    ]

    /// Applies the file to `c`; errors go to `d`.
    public static func apply(_ ini: INIFile, to c: inout AgentConfig, _ d: Diagnostics) {
        let baseDir = (ini.file as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") || baseDir.isEmpty ? p : (baseDir as NSString).appendingPathComponent(p) }
        func error(_ v: INIFile.Value, _ section: String, _ key: String, _ message: String) {
            d.error(ConfigError(file: ini.file, line: v.line, column: v.column, keyPath: "[\(section)] \(key)", message: message))
        }
        func string(_ s: String, _ k: String) -> String? {
            guard let v = ini.value(s, k) else { return nil }
            return v.text
        }
        func bool(_ s: String, _ k: String) -> Bool? {
            guard let v = ini.value(s, k) else { return nil }
            switch v.text.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: error(v, s, k, "expected a boolean (true or false), got '\(v.text.prefix(40))'"); return nil
            }
        }
        func int(_ s: String, _ k: String, _ range: ClosedRange<Int>) -> Int? {
            guard let v = ini.value(s, k) else { return nil }
            guard let n = Int(v.text.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
                error(v, s, k, "expected an integer from \(range.lowerBound) to \(range.upperBound), got '\(v.text.prefix(40))'")
                return nil
            }
            return n
        }
        func list(_ s: String, _ k: String) -> [String]? {
            guard let v = ini.value(s, k) else { return nil }
            return v.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        }

        if let v = string("DEFAULT", "host"), !v.isEmpty { c.host = v }
        if let v = string("DEFAULT", "libvirt_uri"), !v.isEmpty { c.libvirtURI = v }
        if let v = string("DEFAULT", "transport_url"), !v.isEmpty { c.messaging.transportURL = v }
        if let v = string("oslo_messaging_notifications", "transport_url"), !v.isEmpty { c.messaging.transportURL = v }
        c.messagingPosition = (ini.value("oslo_messaging_notifications", "transport_url") ?? ini.value("DEFAULT", "transport_url"))
            .map { Position(file: ini.file, line: $0.line, column: $0.column) }
        if let v = string("DEFAULT", "control_exchange"), !v.isEmpty { c.messaging.exchange = v }
        if let v = string("publisher", "telemetry_secret") { c.telemetrySecret = v }
        if let v = ini.value("polling", "cfg_file") {
            c.pollingFile = resolve(v.text)
        } else if FileManager.default.fileExists(atPath: resolve("polling.yaml")) {
            // oslo.config finds the default polling.yaml next to the config file.
            c.pollingFile = resolve("polling.yaml")
        }
        if let v = int("polling", "batch_size", 0...1_000_000) { c.batchSize = v; c.messaging.batchSize = max(1, v) }
        if let v = bool("polling", "enable_notifications") { c.messaging.enableNotifications = v }
        if let v = bool("polling", "enable_prometheus_exporter") { c.prometheusExporter = v }
        if let v = ini.value("polling", "prometheus_listen_addresses") {
            var addresses: [String] = []
            for a in v.text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !a.isEmpty {
                if let problem = ListenAddress.problem(a) { error(v, "polling", "prometheus_listen_addresses", problem) } else { addresses.append(a) }
            }
            c.prometheusListen = addresses
        }
        if let v = bool("polling", "prometheus_tls_enable") {
            c.prometheusTLS = v
            c.prometheusTLSPosition = ini.value("polling", "prometheus_tls_enable").map { Position(file: ini.file, line: $0.line, column: $0.column) }
        }
        if let v = string("polling", "prometheus_tls_certfile"), !v.isEmpty { c.prometheusTLSCertFile = resolve(v) }
        if let v = string("polling", "prometheus_tls_keyfile"), !v.isEmpty { c.prometheusTLSKeyFile = resolve(v) }
        if let v = string("polling", "heartbeat_socket_dir"), !v.isEmpty { c.heartbeatSocketDirectory = resolve(v) }
        if let v = string("polling", "partitioning_group_prefix"), !v.isEmpty { c.partitioningGroupPrefix = v }
        if let v = ini.value("coordination", "backend_url"), !v.text.isEmpty {
            c.coordinationURL = v.text
            c.coordinationURLPosition = Position(file: ini.file, line: v.line, column: v.column)
        }
        if let v = list("oslo_messaging_notifications", "topics") {
            if v.isEmpty, let at = ini.value("oslo_messaging_notifications", "topics") { error(at, "oslo_messaging_notifications", "topics", "names no topic") }
            else { c.messaging.topics = v }
        }
        if let v = ini.value("oslo_messaging_notifications", "driver") {
            let drivers = v.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for drv in drivers where !["messagingv2", "messaging", "noop", "log", "routing", "test"].contains(drv) {
                error(v, "oslo_messaging_notifications", "driver", "unknown notification driver '\(drv)'; Nephometer sends with messagingv2 (or noop to send nothing)")
            }
            if drivers.allSatisfy({ $0 == "noop" || $0 == "log" || $0 == "test" }) { c.messaging.enableNotifications = false }
        }
        if let section = ini.sections["service_credentials"] {
            var map: [String: String] = [:]
            for (k, v) in section where ServiceCredentials.keys.contains(k) { map[k] = v.text }
            if let problem = c.serviceCredentials.apply(map) {
                let at = section["auth_type"] ?? section["interface"] ?? section["insecure"] ?? section.values.first
                if let at { error(at, "service_credentials", "", problem) }
            }
        }
        let rabbit = "oslo_messaging_rabbit"
        if let v = bool(rabbit, "amqp_durable_queues") { c.messaging.durableQueues = v }
        if let v = bool(rabbit, "amqp_auto_delete") { c.messaging.autoDelete = v }
        if let v = bool(rabbit, "rabbit_quorum_queue") { c.messaging.quorumQueues = v }
        if let v = bool(rabbit, "rabbit_ha_queues") { c.messaging.haQueues = v }
        if let v = int(rabbit, "rabbit_quorum_delivery_limit", 0...1_000_000) { c.messaging.quorumDeliveryLimit = v }
        if let v = int(rabbit, "heartbeat_timeout_threshold", 0...3_600) { c.messaging.heartbeat = v }
        if let v = bool(rabbit, "ssl") { c.messaging.ssl = v }
        if let v = string(rabbit, "ssl_ca_file"), !v.isEmpty { c.messaging.sslCAFile = resolve(v) }
        if let v = string(rabbit, "ssl_cert_file"), !v.isEmpty { c.messaging.sslCertFile = resolve(v) }
        if let v = string(rabbit, "ssl_key_file"), !v.isEmpty { c.messaging.sslKeyFile = resolve(v) }
    }
}
