import Foundation
import Hummingbird
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import NephometerConfig
import NephometerCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// Ceilometer's polling-agent Prometheus exporter (`[polling] enable_prometheus_exporter`,
/// `prometheus_listen_addresses`): every polled sample as a gauge `ceilometer_<meter, dots as
/// underscores>` with Ceilometer 27's labels, so dashboards built on it keep working. Unlike
/// Ceilometer's, a sample whose label set differs from an earlier one of the same meter is a series
/// of its own, not an error that loses the rest of the batch. A series not polled again within
/// `staleAfter` seconds disappears (Ceilometer drops a meter's series before each poll of it).
final class CeilometerExporter: Sendable {
    private struct Series {
        let gauge: Gauge
        var updated: Double
    }
    private struct State {
        var series: [String: Series] = [:]
    }
    let registry = PrometheusCollectorRegistry()
    private let state = Mutex(State())
    let staleAfter: Double

    init(staleAfter: Double) { self.staleAfter = staleAfter }

    func record(_ samples: [Sample]) {
        let now = Time.monotonic()
        state.withLock { st in
            for s in samples {
                let name = "ceilometer_" + s.name.replacingOccurrences(of: ".", with: "_")
                let labels = Self.labels(s)
                let key = name + "\u{0}" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: "\u{0}")
                if var existing = st.series[key] {
                    existing.gauge.set(s.volume.doubleValue)
                    existing.updated = now
                    st.series[key] = existing
                } else {
                    // Ceilometer's HELP is empty; ours names the meter (promtool's lint wants one, and it
                    // is the same for every series of a name, as swift-prometheus requires).
                    let g = registry.makeGauge(name: name, labels: labels, help: "Ceilometer meter \(s.name)")
                    g.set(s.volume.doubleValue)
                    st.series[key] = Series(gauge: g, updated: now)
                }
            }
        }
    }

    /// The text exposition, after dropping stale series.
    func render() -> [UInt8] {
        let cutoff = Time.monotonic() - staleAfter
        state.withLock { st in
            for (k, v) in st.series where v.updated < cutoff {
                registry.unregisterGauge(v.gauge)
                st.series[k] = nil
            }
        }
        return registry.emitToBuffer()
    }

    /// Ceilometer 27's `_gen_labels`, sorted by name as prometheus_client prints them.
    static func labels(_ s: Sample) -> [(String, String)] {
        var l: [(String, String)] = []
        let shards = s.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        l.append((shards[0], shards.count > 2 ? shards[2] : s.resourceID))
        l.append(("publisher", "ceilometer"))
        l.append(("type", shards.count > 1 ? shards[1] : shards[0]))
        if !s.name.isEmpty { l.append(("counter", s.name)) }
        if let v = s.projectID, !v.isEmpty { l.append(("project", v)) }
        if let v = s.projectName, !v.isEmpty { l.append(("project_name", v)) }
        if let v = s.userID, !v.isEmpty { l.append(("user", v)) }
        if let v = s.userName, !v.isEmpty { l.append(("user_name", v)) }
        if !s.unit.isEmpty { l.append(("unit", s.unit)) }
        if !s.resourceID.isEmpty { l.append(("resource", s.resourceID)) }
        let m = s.resourceMetadata
        if !m.isEmpty {
            if let v = truthy(m["host"]) { l.append(("vm_instance", v)) }
            if let d = truthy(m["display_name"]) {
                l.append(("resource_name", truthy(m["name"]).map { "\(d):\($0)" } ?? d))
            } else if let n = truthy(m["name"]) {
                l.append(("resource_name", n))
            }
            l.append(("server_group", truthy(m["user_metadata"]?["server_group"]) ?? "none"))
            if let v = truthy(m["alarm_state"]) { l.append(("state", v)) }
            if s.name.hasPrefix("loadbalancer") { l.append(("availability_zone", truthy(m["availability_zone"]) ?? "")) }
            if s.name == "volume.service.health" {
                for k in ["binary", "zone", "status"] { l.append((k, truthy(m[k]) ?? "")) }
            }
            if let flavor = m["flavor"] {
                if let v = truthy(flavor["id"]) { l.append(("flavor_id", v)) }
                if let v = truthy(flavor["name"]) { l.append(("flavor_name", v)) }
            }
        }
        // A later label of the same name (a meter called "publisher.x.y") wins, as a dict would.
        var seen: [String: Int] = [:]
        var out: [(String, String)] = []
        for (k, v) in l {
            if let i = seen[k] { out[i] = (k, v) } else { seen[k] = out.count; out.append((k, v)) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// Python's truthiness, as a label value (`str()` of it).
    static func truthy(_ v: MetadataValue?) -> String? {
        switch v {
        case .string(let s)?: return s.isEmpty ? nil : s
        case .number(let n)?: return n.doubleValue == 0 ? nil : n.pythonString
        case .bool(let b)?: return b ? "True" : nil
        default: return nil
        }
    }

    /// One server per `host:port`, answering on any path (as Ceilometer's does); HTTPS with `tls`.
    static func service(listen: String, tls: TLSConfiguration?, exporter: CeilometerExporter, logger: Logger) throws -> any Service {
        guard let (host, port) = ListenAddress.split(listen) else {
            throw StatusServerError(description: "prometheus listen address '\(listen)' is not host:port")
        }
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: exporter.render())))
        }
        router.get("/", use: handler)
        router.get("**", use: handler)
        var log = logger
        log.logLevel = max(logger.logLevel, .notice)
        let scheme = tls == nil ? "http" : "https"
        return Application(router: router, server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
                           configuration: .init(address: .hostname(host, port: port), serverName: "nephometer-exporter"),
                           onServerRunning: { channel in
                               logger.notice("serving Ceilometer's Prometheus exporter on \(scheme)://\(host):\(channel.localAddress?.port ?? port)")
                           }, logger: log)
    }
}
