/// The pieces of an `snmp://` URL, percent-decoded, and the two safe renderings of it.
struct URLParts {
    var user: String?
    var password: String?
    /// Without brackets for IPv6.
    var host: String
    var port: Int?
    var query: [(String, String)] = []

    enum UserInfo { case redacted, none }

    init(_ url: String) throws(SNMPTargetError) {
        func fail(_ reason: String) -> SNMPTargetError {
            // Nothing parsed yet: show only what cannot be a secret.
            let tail = url.split(separator: "@").last.map(String.init) ?? ""
            let shown = url.contains("@") ? "snmp://***@" + tail.prefix(while: { $0 != "?" }) : String(url.prefix(while: { $0 != "?" }))
            return SNMPTargetError(url: shown, reason: reason + (url.contains("@") && url.contains("?") && !url.dropFirst(7).prefix(while: { $0 != "?" }).contains("@")
                ? " (if the user or password contains '/', '?' or '#', percent-encode them)" : ""))
        }
        guard url.lowercased().hasPrefix("snmp://") else { throw fail("the scheme must be snmp://") }
        var rest = Substring(url.dropFirst(7))
        var queryText: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else { throw fail("a path is not allowed") }
        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = Self.decode(info[..<colon])
                password = Self.decode(info[info.index(after: colon)...])
            } else {
                user = Self.decode(info)
            }
            guard user != nil, password != nil || !info.contains(":") else { throw fail("bad percent-encoding in the user or password") }
        }
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after the IPv6 address") }
                port = try Self.port(after.dropFirst(), fail)
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            port = try Self.port(hostPort[hostPort.index(after: colon)...], fail)
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw fail("no host") }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" || $0 == "%" }) else {
            throw fail(url.contains("@") ? "the host is not a host name or address (if the password contains '/', '?' or '#', percent-encode them)"
                                         : "'\(host.prefix(60))' is not a host name or address")
        }
        for pair in queryText.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.decode(kv[0]), let value = Self.decode(kv.count > 1 ? kv[1] : "") else {
                throw fail("bad percent-encoding in the options")
            }
            query.append((key, value))
        }
    }

    private static func port(_ text: Substring, _ fail: (String) -> SNMPTargetError) throws(SNMPTargetError) -> Int {
        guard let p = Int(text), p > 0, p < 65536 else { throw fail("the port is not in 1…65535") }
        return p
    }

    /// Percent-decoding (`+` stays `+`); nil for a malformed escape.
    static func decode(_ s: Substring) -> String? {
        guard s.contains("%") else { return String(s) }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The URL again: user info redacted or left out; secret (and unknown) option values masked or dropped.
    func render(userinfo: UserInfo, dropSecretOptions: Bool) -> String {
        var out = "snmp://"
        if userinfo == .redacted, let user {
            out += password != nil ? "\(user):***@" : "***@"
        }
        out += host.contains(":") ? "[\(host)]" : host
        if let port { out += ":\(port)" }
        var pairs: [String] = []
        for (k, v) in query {
            let known = SNMPTarget.knownOptions.contains(k) && !SNMPTarget.secretOptions.contains(k)
            if known { pairs.append("\(k)=\(v)") } else if !dropSecretOptions { pairs.append("\(k)=***") }
        }
        if !pairs.isEmpty { out += "?" + pairs.joined(separator: "&") }
        return out
    }
}
