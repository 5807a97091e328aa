/// Where and how to reach one SNMP agent: a parsed `snmp://` resource URL.
///
/// `snmp://[user[:password]@]host[:port][?options]`. Without credentials SNMPv2c with community
/// `public`; a user alone is the v2c community; SNMPv3 when a password (the auth key), `auth_proto`,
/// `priv_proto` or `priv_password` is given, as Ceilometer's URLs do. Options: `version` (1, 2c, 3),
/// `auth_proto`, `priv_proto`, `priv_password`, `context`, `timeout` (seconds), `retries`.
public struct SNMPTarget: Sendable, Hashable {
    /// SNMP protocol version.
    public enum Version: String, Sendable, Hashable { case v1 = "1", v2c = "2c", v3 = "3" }
    /// USM authentication protocols, in the shim's order.
    public enum AuthProtocol: String, Sendable, Hashable, CaseIterable {
        case md5, sha, sha224, sha256, sha384, sha512
        var shimIndex: Int32 { Int32(Self.allCases.firstIndex(of: self) ?? 0) }
    }
    /// USM privacy protocols, in the shim's order.
    public enum PrivProtocol: String, Sendable, Hashable, CaseIterable {
        case des, aes128, aes192, aes256
        var shimIndex: Int32 { Int32(Self.allCases.firstIndex(of: self) ?? 0) }
    }

    /// The URL as written (holds secrets: never log it; use `redacted`).
    public let raw: String
    /// Host name or address as written (IPv6 without brackets), lowercased.
    public let host: String
    public let port: Int
    public let version: Version
    /// v1/v2c community.
    public let community: String?
    /// v3 user name.
    public let user: String?
    public let authProtocol: AuthProtocol?
    public let authPassword: String?
    public let privProtocol: PrivProtocol?
    public let privPassword: String?
    public let context: String?
    /// Seconds to wait for each request.
    public let timeout: Double
    /// Resends after the first attempt.
    public let retries: Int
    /// For logs and errors: secrets replaced by `***` (the v2c community too).
    public let redacted: String
    /// For sample metadata: the URL without user, password and secret options.
    public let withoutCredentials: String

    /// The resource id of host-level samples (Ceilometer: the URL's host name).
    public var resourceID: String { host }

    /// net-snmp's peer name: `udp:host:port` or `udp6:[addr]:port`.
    var peerName: String { host.contains(":") ? "udp6:[\(host)]:\(port)" : "udp:\(host):\(port)" }

    /// Defaults applied when the URL does not set `timeout` / `retries`.
    public struct Defaults: Sendable {
        public var timeout: Double
        public var retries: Int
        public init(timeout: Double = 1, retries: Int = 2) {
            self.timeout = timeout
            self.retries = retries
        }
    }

    public init(url: String, defaults: Defaults = Defaults()) throws(SNMPTargetError) {
        let parts = try URLParts(url)
        raw = url
        redacted = parts.render(userinfo: .redacted, dropSecretOptions: false)
        withoutCredentials = parts.render(userinfo: .none, dropSecretOptions: true)
        func fail(_ reason: String) -> SNMPTargetError { SNMPTargetError(url: parts.render(userinfo: .redacted, dropSecretOptions: false), reason: reason) }
        guard !parts.host.isEmpty else { throw fail("no host") }
        host = parts.host.lowercased()
        port = parts.port ?? 161
        var opts: [String: String] = [:]
        for (k, v) in parts.query {
            guard Self.knownOptions.contains(k) else {
                let hint = Self.knownOptions.sorted().joined(separator: ", ")
                throw fail("unknown option '\(k)' (known: \(hint))")
            }
            opts[k] = v
        }
        let auth = try opts["auth_proto"].map { p throws(SNMPTargetError) -> AuthProtocol in
            guard let a = AuthProtocol(rawValue: p.lowercased()) else {
                throw fail("auth_proto '\(p)' is not one of \(AuthProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return a
        }
        let priv = try opts["priv_proto"].map { p throws(SNMPTargetError) -> PrivProtocol in
            let name = p.lowercased() == "aes" ? "aes128" : p.lowercased()
            guard let a = PrivProtocol(rawValue: name) else {
                throw fail("priv_proto '\(p)' is not one of \(PrivProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return a
        }
        let privPass = opts["priv_password"].flatMap { $0.isEmpty ? nil : $0 }
        let password = parts.password.flatMap { $0.isEmpty ? nil : $0 }
        let wantsV3 = auth != nil || priv != nil || privPass != nil || password != nil
        let version: Version
        if let v = opts["version"] {
            guard let parsed = Version(rawValue: v.lowercased() == "2" ? "2c" : v.lowercased()) else {
                throw fail("version '\(v)' is not one of 1, 2c, 3")
            }
            if parsed != .v3 && wantsV3 { throw fail("version \(v) has no authentication or privacy (those need version 3)") }
            version = parsed
        } else {
            version = wantsV3 ? .v3 : .v2c
        }
        self.version = version
        context = opts["context"]
        if let t = opts["timeout"] {
            guard let v = Double(t), v > 0, v <= 600 else { throw fail("timeout '\(t)' is not a number of seconds in (0, 600]") }
            timeout = v
        } else {
            timeout = defaults.timeout
        }
        if let r = opts["retries"] {
            guard let v = Int(r), v >= 0, v <= 20 else { throw fail("retries '\(r)' is not an integer in 0…20") }
            retries = v
        } else {
            retries = defaults.retries
        }
        if version == .v3 {
            guard let u = parts.user, !u.isEmpty else { throw fail("SNMPv3 needs a user name (snmp://user:authpass@host?…)") }
            user = u
            community = nil
            if privPass != nil || priv != nil {
                guard password != nil else { throw fail("privacy needs authentication: give the auth password as the URL password") }
                guard privPass != nil else { throw fail("priv_proto is set but priv_password is missing") }
            }
            if auth != nil && password == nil { throw fail("auth_proto is set but the URL has no password (the auth key)") }
            // pysnmp's defaults, which Ceilometer relied on: MD5 when only a key is given, DES likewise.
            authProtocol = password != nil ? (auth ?? .md5) : nil
            authPassword = password
            privProtocol = privPass != nil ? (priv ?? .des) : nil
            privPassword = privPass
            for (what, pass) in [("auth password", password), ("priv_password", privPass)] {
                if let pass, pass.utf8.count < 8 { throw fail("the \(what) is shorter than 8 characters (RFC 3414 minimum)") }
            }
        } else {
            community = parts.user.flatMap { $0.isEmpty ? nil : $0 } ?? "public"
            user = nil
            authProtocol = nil
            authPassword = nil
            privProtocol = nil
            privPassword = nil
        }
    }

    static let knownOptions: Set<String> = ["version", "auth_proto", "priv_proto", "priv_password", "context", "timeout", "retries"]
    static let secretOptions: Set<String> = ["priv_password"]
}

/// A resource URL that cannot be polled; the message names the URL with its secrets redacted.
public struct SNMPTargetError: Error, Sendable, CustomStringConvertible, Hashable {
    public let url: String
    public let reason: String
    public var description: String { "invalid SNMP resource \(url): \(reason)" }
}
