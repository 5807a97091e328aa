import NephometerCore

/// An oslo.messaging transport URL for RabbitMQ: `rabbit://user:pass@host:port[,user:pass@host2:port2…]/vhost`.
/// Several hosts mean failover, tried in order (oslo's `round-robin`); `rabbit+ssl://` (or
/// `[oslo_messaging_rabbit] ssl`) means TLS with verification. A path `/` or none is vhost `/`, as
/// oslo reads it; `/name` is vhost `name` (percent-decoded).
public struct TransportURL: Sendable, Hashable {
    public struct Host: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String
    }

    public var hosts: [Host]
    public var virtualHost: String
    public var ssl: Bool

    public init(_ raw: String, ssl forceSSL: Bool = false) throws(PublisherURLError) {
        guard let sep = raw.range(of: "://") else { throw PublisherURLError("transport URL '\(Redaction.url(raw))' has no scheme (expected rabbit://user:pass@host:port/)") }
        let scheme = raw[..<sep.lowerBound].lowercased()
        guard ["rabbit", "rabbit+ssl", "amqp", "amqps"].contains(scheme) else {
            throw PublisherURLError("transport URL scheme '\(scheme)://' is not supported; Nephometer speaks RabbitMQ (rabbit:// or rabbit+ssl://)")
        }
        ssl = forceSSL || scheme == "rabbit+ssl" || scheme == "amqps"
        var rest = Substring(raw[sep.upperBound...])
        if let q = rest.firstIndex(of: "?") { rest = rest[..<q] }
        var path = Substring("")
        // The path starts at the first '/' after the last '@' (a password may hold a '/').
        let searchFrom = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[searchFrom...].firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        virtualHost = path.isEmpty ? "/" : PublisherURL.percentDecode(path)
        let defaultPort = ssl ? 5671 : 5672
        var hosts: [Host] = []
        for entry in rest.split(separator: ",", omittingEmptySubsequences: true) {
            // Each entry is the netloc of a URL of its own: user info, host (IPv6 in brackets), port.
            let u: PublisherURL
            do { u = try PublisherURL("rabbit://\(entry)") } catch {
                throw PublisherURLError("transport URL '\(Redaction.url(raw))': \(error)")
            }
            guard !u.host.isEmpty else { throw PublisherURLError("transport URL '\(Redaction.url(raw))' names a host without a name") }
            hosts.append(Host(host: u.host, port: u.port ?? defaultPort, user: u.user ?? "guest",
                              password: u.user == nil ? "guest" : u.password ?? ""))
        }
        guard !hosts.isEmpty else { throw PublisherURLError("transport URL '\(Redaction.url(raw))' names no host") }
        guard hosts.count <= 64 else { throw PublisherURLError("transport URL names \(hosts.count) hosts; at most 64 are supported") }
        self.hosts = hosts
    }

    /// The URL as logs and `/status` show it: every password masked.
    public var redacted: String {
        let list = hosts.map { "\($0.user):***@\($0.host.contains(":") ? "[\($0.host)]" : $0.host):\($0.port)" }.joined(separator: ",")
        let vhost = virtualHost == "/" ? "" : virtualHost
        return "\(ssl ? "rabbit+ssl" : "rabbit")://\(list)/\(vhost)"
    }
}
