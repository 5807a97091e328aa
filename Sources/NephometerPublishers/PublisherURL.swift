import NephometerCore
/// A publisher URL split as Ceilometer's `urlsplit` does: scheme, user info, host, port, path, query.
public struct PublisherURL: Sendable, Hashable {
    public let raw: String
    public let scheme: String
    public let user: String?
    public let password: String?
    public let host: String
    public let port: Int?
    public let path: String
    /// Query parameters in order; a parameter without `=` has an empty value.
    public let query: [(String, String)]

    public static func == (a: PublisherURL, b: PublisherURL) -> Bool { a.raw == b.raw }
    public func hash(into h: inout Hasher) { h.combine(raw) }

    public init(_ raw: String) throws(PublisherURLError) {
        self.raw = raw
        guard let schemeEnd = raw.range(of: "://") else { throw PublisherURLError("'\(Self.redact(raw))' has no scheme (expected scheme://…)") }
        scheme = String(raw[..<schemeEnd.lowerBound]).lowercased()
        var rest = Substring(raw[schemeEnd.upperBound...])
        var queryText = Substring("")
        if let q = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        if let f = queryText.firstIndex(of: "#") { queryText = queryText[..<f] }
        var netloc = rest
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            netloc = rest[..<slash]
            path = rest[slash...]
        }
        var user: String?
        var password: String?
        if let at = netloc.lastIndex(of: "@") {
            let info = netloc[..<at]
            netloc = netloc[netloc.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = Self.percentDecode(info[..<colon])
                password = Self.percentDecode(info[info.index(after: colon)...])
            } else {
                user = Self.percentDecode(info)
            }
        }
        var host = netloc
        var port: Int?
        if netloc.hasPrefix("[") {
            guard let close = netloc.firstIndex(of: "]") else { throw PublisherURLError("'\(Self.redact(raw))': unterminated IPv6 literal") }
            host = netloc[netloc.index(after: netloc.startIndex)..<close]
            let after = netloc[netloc.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw PublisherURLError("'\(Self.redact(raw))': bad port\(Self.quoted(after.dropFirst(), raw)) (expected 1-65535)")
                }
                port = p
            } else if !after.isEmpty {
                throw PublisherURLError("'\(Self.redact(raw))': unexpected '\(after)' after the IPv6 literal")
            }
        } else if let colon = netloc.lastIndex(of: ":") {
            host = netloc[..<colon]
            let p = netloc[netloc.index(after: colon)...]
            guard let v = Int(p), (1...65535).contains(v) else {
                throw PublisherURLError("'\(Self.redact(raw))': bad port\(Self.quoted(p, raw)) (expected 1-65535)\(raw.contains("@") ? "; if the password contains '/', '?' or '#', percent-encode them (%2F, %3F, %23)" : "")")
            }
            port = v
        }
        self.user = user
        self.password = password
        self.host = String(host)
        self.port = port
        self.path = Self.percentDecode(path)
        query = queryText.split(separator: "&", omittingEmptySubsequences: true).map { part in
            if let eq = part.firstIndex(of: "=") {
                return (Self.percentDecode(part[..<eq]), Self.percentDecode(part[part.index(after: eq)...]))
            }
            return (Self.percentDecode(part), "")
        }
    }

    /// ` 'text'` for an error message, or nothing when the URL has user info (the text may be part of
    /// a password that a `/`, `?` or `#` split).
    static func quoted(_ text: Substring, _ raw: String) -> String {
        raw.contains("@") ? "" : " '\(text.prefix(40))'"
    }

    public func queryValue(_ key: String) -> String? { query.last(where: { $0.0 == key })?.1 }
    public func hasQuery(_ key: String) -> Bool { query.contains { $0.0 == key } }

    /// The URL with the password (and any `password`-like query values) replaced by `***`.
    public var redacted: String { Self.redact(raw) }

    public static func redact(_ raw: String) -> String { Redaction.url(raw) }

    static func percentDecode<S: StringProtocol>(_ s: S) -> String {
        guard s.contains("%") || s.contains("+") else { return String(s) }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
