/// URLs as humans may see them: in logs, errors, `validate`, `ring`, `/status`. Whatever could be a
/// credential is masked, including when the URL is malformed — a password containing `/`, `?` or `#`
/// makes a URL parser take part of it for a host, a port or a path, and an error quoting those parts
/// would print it.
public enum Redaction {
    /// The URL with its user info masked (`scheme://user:***@host…`, `scheme://***@host…` without a
    /// `:`), and the values of query parameters whose names suggest secrets (`pass`, `secret`,
    /// `token`, `key`, except `clientkey`, a path) masked. Everything between `://` and the last `@`
    /// counts as user info, so a malformed URL is masked rather than shown.
    public static func url(_ raw: String) -> String {
        guard let sep = raw.range(of: "://") else { return maskQuery(raw) }
        let scheme = raw[..<sep.upperBound]
        var rest = Substring(raw[sep.upperBound...])
        var shown = String(scheme)
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            let user = info.prefix { $0 != ":" && $0 != "/" && $0 != "?" && $0 != "#" }
            shown += user.count < info.count ? "\(user):***" : "***"
            rest = rest[at...]
        }
        return shown + maskQuery(String(rest))
    }

    static func maskQuery(_ s: String) -> String {
        guard let q = s.firstIndex(of: "?") else { return s }
        let params = s[s.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { p -> String in
            let key = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            return isSecret(key) && p.contains("=") ? "\(key)=***" : String(p)
        }
        return String(s[...q]) + params.joined(separator: "&")
    }

    /// Query parameter names whose values are secrets.
    public static func isSecret(_ name: String) -> Bool {
        let k = name.lowercased()
        if k == "clientkey" { return false }
        return k.contains("pass") || k.contains("secret") || k.contains("token") || k.contains("key") || k == "community"
    }
}
