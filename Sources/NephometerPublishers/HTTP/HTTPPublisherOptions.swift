import Crypto
import Foundation
import NephometerCore

/// The options of an `http(s)://` publisher URL, split as Ceilometer splits them: its own options are
/// removed, every other query parameter stays in the target URL, `user:pass@` becomes Basic auth.
struct HTTPPublisherOptions: Sendable, Hashable {
    var target: String
    var timeout: Double = 5
    var maxRetries = 2
    var batch = true
    var verifySSL = true
    var caBundle: String?
    var clientCert: String?
    var clientKey: String?
    var basicAuth: (user: String, password: String)?

    static func == (a: Self, b: Self) -> Bool { a.target == b.target }
    func hash(into h: inout Hasher) { h.combine(target) }

    static let optionNames = ["timeout", "max_retries", "batch", "verify_ssl", "clientcert", "clientkey", "raw_only"]

    init(_ url: PublisherURL) throws(PublisherURLError) {
        guard url.scheme == "http" || url.scheme == "https" else { throw PublisherURLError("not an http(s) URL") }
        guard !url.host.isEmpty else { throw PublisherURLError("http publisher needs a host (http://collector:8080/v1/samples)") }
        // Rebuild the target from the raw text: scheme, host[:port], path, and the foreign query parameters.
        guard let sep = url.raw.range(of: "://") else { throw PublisherURLError("not an http(s) URL") }
        var rest = Substring(url.raw[sep.upperBound...])
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") { query = rest[rest.index(after: q)...]; rest = rest[..<q] }
        let netEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var netloc = rest[..<netEnd]
        if let at = netloc.lastIndex(of: "@") { netloc = netloc[netloc.index(after: at)...] }
        let kept = query.split(separator: "&").filter { p in
            let key = p.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return !Self.optionNames.contains(key)
        }
        target = "\(url.scheme)://\(netloc)\(rest[netEnd...])" + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        if let v = url.queryValue("timeout") {
            guard let t = Double(v), t.isFinite, t >= 0.001, t <= 3_600 else {
                throw PublisherURLError("timeout must be a number of seconds in 0.001…3600, got '\(v.prefix(40))'")
            }
            timeout = t
        }
        if let v = url.queryValue("max_retries") {
            guard let n = Int(v), (0...100).contains(n) else { throw PublisherURLError("max_retries must be a whole number in 0…100, got '\(v.prefix(40))'") }
            maxRetries = n
        }
        if let v = url.queryValue("batch") {
            guard let b = Self.bool(v) else { throw PublisherURLError("batch must be true or false, got '\(v)'") }
            batch = b
        }
        if let v = url.queryValue("verify_ssl") {
            if let b = Self.bool(v) { verifySSL = b } else { caBundle = v }
        }
        clientCert = url.queryValue("clientcert")
        clientKey = url.queryValue("clientkey")
        if clientKey != nil && clientCert == nil { throw PublisherURLError("clientkey needs clientcert") }
        for path in [caBundle, clientCert, clientKey].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: path) {
            throw PublisherURLError("cannot read \(path)")
        }
        if let u = url.user { basicAuth = (u, url.password ?? "") }
    }

    /// oslo's strict bool: true/false, yes/no, on/off, 1/0.
    static func bool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "true", "yes", "on", "1", "y", "t": return true
        case "false", "no", "off", "0", "n", "f": return false
        default: return nil
        }
    }
}

/// How an http(s) publisher URL is understood, for logs and tests.
public enum HTTPTarget {
    /// `POST <target> timeout=… retries=… batch=… verify=… auth=<user>`.
    public static func describe(_ raw: String) throws(PublisherURLError) -> String {
        let o = try HTTPPublisherOptions(try PublisherURL(raw))
        let verify = o.caBundle.map { "ca:\($0)" } ?? "\(o.verifySSL)"
        return "POST \(o.target) timeout=\(o.timeout) retries=\(o.maxRetries) batch=\(o.batch) verify=\(verify) auth=\(o.basicAuth?.user ?? "-")"
    }
}

/// The body signature an HTTP publisher sends when a telemetry secret is set.
public enum HTTPSignature {
    public static let headerName = "X-Nephometer-Signature"

    /// Hex HMAC-SHA256 of the body with the secret.
    public static func header(_ body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return Hex.string(mac)
    }
}
