import Foundation
import Hummingbird
import Logging
import NIOCore
import NephometerConfig
import NephometerCore
import Prometheus
import ServiceLifecycle

/// The agent's HTTP endpoints (`metrics.listen` / `--metrics-listen`; off by default, loopback unless
/// told otherwise), served by Hummingbird:
///
/// - `/metrics`: Prometheus text format, through swift-metrics and swift-prometheus.
/// - `/healthz`: 200 `ok` while every scheduled interval finished a cycle within two of its intervals
///   and no publisher's spool is above 80 % of its bound (or dropping at it while the far end fails, or
///   cannot be written); otherwise 503 with the reasons, a line each.
/// - `/status`: the status page (`StatusPage`).
public enum StatusServer {
    /// The server as a service; `bound` gets the port it listens on (for a port of 0).
    public static func service(listen: String, agent: Agent, registry: PrometheusCollectorRegistry, logger: Logger,
                               bound: @escaping @Sendable (Int) -> Void = { _ in }) throws -> any Service {
        guard let (host, port) = ListenAddress.split(listen) else {
            throw StatusServerError(description: "metrics listen address '\(listen)' is not host:port")
        }
        let snapshots = SnapshotMetrics(registry: registry)
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            let s = await agent.status()
            snapshots.update(s.metricValues())
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("/healthz") { _, _ -> Response in
            let problems = await agent.status().unhealthy()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            let text = problems.isEmpty ? "ok\n" : problems.joined(separator: "\n") + "\n"
            return Response(status: problems.isEmpty ? .ok : .serviceUnavailable, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/status") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: StatusPage.render(await agent.status()))))
        }
        var log = logger
        log.logLevel = max(logger.logLevel, .notice)
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "nephometer"),
                           onServerRunning: { channel in
                               let p = channel.localAddress?.port ?? port
                               logger.notice("serving /metrics, /healthz and /status on http://\(host.contains(":") ? "[\(host)]" : host):\(p)")
                               bound(p)
                           }, logger: log)
    }
}

struct StatusServerError: Error, CustomStringConvertible {
    let description: String
}

