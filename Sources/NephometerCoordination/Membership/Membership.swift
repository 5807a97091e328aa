import Foundation
import Logging
import NephometerCore

/// Group membership: which agents are alive in a group, with their weights.
public protocol Membership: Sendable {
    /// This agent's member id (a random UUID per process, as Ceilometer's).
    var memberID: String { get }
    /// Joins `group` (creating it if needed). While `run` runs, the membership is kept alive and the
    /// group watched.
    func join(group: String, weight: Int) async throws
    /// Leaves one group (a reload that no longer polls it).
    func leave(group: String) async
    /// The live members of `group` with their weights, or nil when not known (backend unreachable
    /// and nothing cached yet).
    func members(of group: String) async -> [String: Int]?
    /// Heartbeats and watches, until cancelled or `stop`: the membership's long-lived work, run by the
    /// agent as a service. Short-lived users (`poll --once`, `ring`) do without.
    func run() async
    /// Leaves every group and ends `run`.
    func stop() async
}

/// A member's weight as a peer wrote it (tooz's capabilities `{'weight': w}`), checked: a whole number
/// in 0…`HashRing.maxWeight`. Anything else — a float, `1e30`, NaN, infinity, 2⁶³−1, a string — is not a
/// weight: the member is left out of the ring (and logged once), so one bad record cannot exhaust or
/// crash the agents of a group. (tooz itself raises `TypeError` on a float weight and builds `32 × w`
/// points for an integer one: 10⁷ means 3.2·10⁸ points.)
public enum MemberWeight {
    public static func parse(_ value: MetadataValue?) -> Result<Int, InvalidWeight> {
        guard let value else { return .success(1) }
        guard case .number(let n) = value else { return .failure(InvalidWeight(text: JSONWriter.string(value))) }
        guard case .int(let i) = n, i >= 0, i <= Int64(HashRing.maxWeight) else { return .failure(InvalidWeight(text: n.pythonString)) }
        return .success(Int(i))
    }

    public struct InvalidWeight: Error, CustomStringConvertible {
        public let text: String
        public var description: String { "weight \(text.prefix(40)) is not a whole number in 0…\(HashRing.maxWeight)" }
    }

    /// A member id from a backend's raw bytes: valid UTF-8 of at most 255 bytes, or nil.
    public static func memberID(_ bytes: some Collection<UInt8>) -> String? {
        guard !bytes.isEmpty, bytes.count <= 255 else { return nil }
        return String(validating: Array(bytes), as: UTF8.self)
    }
}

/// A parsed `coordination.backend_url`.
public struct CoordinationURL: Sendable, Hashable {
    public enum Backend: Sendable, Hashable {
        case file(directory: String)
        case etcd(endpoint: String)
    }
    public let backend: Backend
    /// Membership timeout in seconds (`?timeout=`): etcd lease TTL, file liveness window.
    public let timeout: Double
    public let raw: String
    /// The URL for humans: any user info masked.
    public var redacted: String { Redaction.url(raw) }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ raw: String) throws(Invalid) {
        self.raw = raw
        guard let sep = raw.range(of: "://") else { throw Invalid(description: "'\(Redaction.url(raw))' is not a URL (expected file:///dir or etcd3+http://host:port)") }
        let scheme = raw[..<sep.lowerBound].lowercased()
        var rest = String(raw[sep.upperBound...])
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for part in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                query[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            rest = String(rest[..<q])
        }
        var timeout: Double?
        if let t = query["timeout"] {
            guard let v = Double(t), v.isFinite, v >= 0.1, v <= 3_600 else {
                throw Invalid(description: "timeout must be a number of seconds in 0.1…3600, got '\(t.prefix(40))'")
            }
            timeout = v
        }
        for key in query.keys where key != "timeout" {
            throw Invalid(description: "unknown option '\(key.prefix(40))'\(Suggestion.hint(for: key, in: ["timeout"])); expected: timeout")
        }
        switch scheme {
        case "file":
            guard rest.hasPrefix("/") else { throw Invalid(description: "file coordination needs an absolute directory (file:///var/lib/nephometer/group)") }
            backend = .file(directory: rest)
            self.timeout = timeout ?? 10
        case "etcd3+http", "etcd3+https":
            guard !rest.isEmpty else { throw Invalid(description: "etcd coordination needs host:port (etcd3+http://127.0.0.1:2379)") }
            guard !rest.contains("@") else {
                throw Invalid(description: "\(Redaction.url(raw)): user and password are not supported for etcd (use a local etcd proxy or TLS client certificates); remove them from the URL")
            }
            let host = rest.hasSuffix("/") ? String(rest.dropLast()) : rest
            backend = .etcd(endpoint: "\(scheme == "etcd3+https" ? "https" : "http")://\(host)")
            self.timeout = timeout ?? 30
        default:
            let hint = Suggestion.hint(for: scheme, in: ["file", "etcd3+http", "etcd3+https"])
            throw Invalid(description: "unsupported coordination backend '\(scheme)://'\(hint); expected file:// or etcd3+http(s)://")
        }
    }

    /// Opens the backend for a new member.
    public func open(memberID: String = UUID().uuidString.lowercased(), logger: Logger) -> any Membership {
        switch backend {
        case .file(let dir): return FileMembership(directory: dir, memberID: memberID, timeout: timeout, logger: logger)
        case .etcd(let endpoint): return EtcdMembership(endpoint: endpoint, memberID: memberID, ttl: timeout, logger: logger)
        }
    }
}
