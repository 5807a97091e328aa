/// How publishers that talk to OpenStack APIs (Gnocchi) authenticate: `service_credentials:` in
/// nephometer.yaml or ceilometer.conf's `[service_credentials]`, with keystoneauth's option names.
public struct ServiceCredentials: Sendable, Hashable {
    /// `password` (Keystone v3, the catalog gives Gnocchi's endpoint), `gnocchi-basic` or `gnocchi-noauth`.
    public var authType = "password"
    public var authURL: String?
    public var username: String?
    public var password: String?
    public var projectName: String?
    public var projectID: String?
    public var userDomainName = "Default"
    public var userDomainID: String?
    public var projectDomainName = "Default"
    public var projectDomainID: String?
    public var regionName: String?
    /// Catalog interface: `public`, `internal` or `admin`.
    public var interface = "public"
    /// `gnocchi-basic` / `gnocchi-noauth`: Gnocchi's URL and who we are.
    public var endpoint: String?
    public var user = "admin"
    public var userID: String?
    public var roles = "admin"
    public var cafile: String?
    public var insecure = false

    public init() {}

    public static let authTypes = ["password", "v3password", "gnocchi-basic", "gnocchi-noauth"]

    /// Option names, as in ceilometer.conf's `[service_credentials]`.
    public static let keys = ["auth_type", "auth_url", "username", "password", "project_name", "project_id", "user_domain_name",
                              "user_domain_id", "project_domain_name", "project_domain_id", "region_name", "interface", "endpoint",
                              "user", "user_id", "roles", "cafile", "insecure"]

    /// Sets the options present in `map` (ignoring other keys); returns what is wrong, if anything.
    public mutating func apply(_ map: [String: String]) -> String? {
        if let v = map["auth_type"] {
            guard Self.authTypes.contains(v) else { return "auth_type '\(v)' is not supported; expected one of: \(Self.authTypes.joined(separator: ", "))" }
            authType = v
        }
        if let v = map["auth_url"] { authURL = v }
        if let v = map["username"] { username = v }
        if let v = map["password"] { password = v }
        if let v = map["project_name"] { projectName = v }
        if let v = map["project_id"] { projectID = v }
        if let v = map["user_domain_name"] { userDomainName = v }
        if let v = map["user_domain_id"] { userDomainID = v }
        if let v = map["project_domain_name"] { projectDomainName = v }
        if let v = map["project_domain_id"] { projectDomainID = v }
        if let v = map["region_name"] { regionName = v }
        if let v = map["interface"] {
            let i = v.hasSuffix("URL") ? String(v.dropLast(3)) : v
            guard ["public", "internal", "admin"].contains(i) else { return "interface '\(v)' must be public, internal or admin" }
            interface = i
        }
        if let v = map["endpoint"] { endpoint = v }
        if let v = map["user"] { user = v }
        if let v = map["user_id"] { userID = v }
        if let v = map["roles"] { roles = v }
        if let v = map["cafile"] { cafile = v }
        if let v = map["insecure"] {
            switch v.lowercased() {
            case "true", "yes", "on", "1": insecure = true
            case "false", "no", "off", "0": insecure = false
            default: return "insecure must be true or false, got '\(v.prefix(20))'"
            }
        }
        return nil
    }
}
