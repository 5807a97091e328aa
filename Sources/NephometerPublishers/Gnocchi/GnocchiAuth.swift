import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NephometerCore

/// How the Gnocchi publisher finds Gnocchi and signs its requests, as gnocchiclient with
/// keystoneauth does: Keystone v3 password auth (token cached and renewed five minutes before it
/// expires; Gnocchi's endpoint from the catalog's `metric` service), or the `gnocchi-basic` and
/// `gnocchi-noauth` plugins.
actor GnocchiAuth {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// A 4xx from Keystone (bad credentials): not worth retrying quickly, but a config problem.
        var permanent = false
    }

    nonisolated let credentials: ServiceCredentials
    nonisolated let client: HTTPClient
    nonisolated let timeout: Double
    private var token: (value: String, expires: Double, endpoint: String)?
    private var filterProjectIDs: [String: String] = [:]

    /// The largest Keystone response read (a catalog of a large cloud is well under this).
    static let maxResponse = 4 << 20

    init(credentials: ServiceCredentials, client: HTTPClient, timeout: Double) {
        self.credentials = credentials
        self.client = client
        self.timeout = timeout
    }

    nonisolated var usesKeystone: Bool { credentials.authType == "password" || credentials.authType == "v3password" }

    /// Gnocchi's base URL and the headers every request carries.
    func session() async throws(Failure) -> (endpoint: String, headers: HTTPHeaders) {
        var h = HTTPHeaders()
        h.add(name: "Accept", value: "application/json")
        h.add(name: "User-Agent", value: "nephometer/\(Version.string)")
        switch credentials.authType {
        case "gnocchi-basic":
            h.add(name: "Authorization", value: "basic " + Data("\(credentials.user):".utf8).base64EncodedString())
            return (credentials.endpoint ?? "http://localhost:8041", h)
        case "gnocchi-noauth":
            h.add(name: "x-user-id", value: credentials.userID ?? credentials.user)
            h.add(name: "x-project-id", value: credentials.projectID ?? "")
            h.add(name: "x-roles", value: credentials.roles)
            return (credentials.endpoint ?? "http://localhost:8041", h)
        default:
            let t = try await keystoneToken()
            h.add(name: "X-Auth-Token", value: t.value)
            return (credentials.endpoint ?? t.endpoint, h)
        }
    }

    /// Forgets the token (after a 401 from Gnocchi).
    func invalidate() { token = nil }

    /// The id of `project` in `domain` (the Gnocchi publisher's filter of its own activity), through Keystone.
    func projectID(_ project: String, domain: String) async throws(Failure) -> String? {
        let key = "\(domain)/\(project)"
        if let id = filterProjectIDs[key] { return id }
        let t = try await keystoneToken()
        let base = try authBase()
        let domains = try await get("\(base)/domains?name=\(escape(domain))", token: t.value)
        guard case .array(let ds)? = domains["domains"], let domainID = ds.first?["id"]?.stringValue else {
            throw Failure(description: "Keystone knows no domain '\(domain)' (filter_domain)", permanent: true)
        }
        let projects = try await get("\(base)/projects?name=\(escape(project))&domain_id=\(escape(domainID))", token: t.value)
        guard case .array(let ps)? = projects["projects"] else { return nil }
        let id = ps.first?["id"]?.stringValue
        if let id { filterProjectIDs[key] = id }
        return id
    }

    private func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))) ?? s }

    private func authBase() throws(Failure) -> String {
        guard var url = credentials.authURL, !url.isEmpty else { throw Failure(description: "service_credentials has no auth_url", permanent: true) }
        while url.hasSuffix("/") { url.removeLast() }
        return url.hasSuffix("/v3") ? url : url + "/v3"
    }

    private func keystoneToken() async throws(Failure) -> (value: String, expires: Double, endpoint: String) {
        if let t = token, t.expires - Date().timeIntervalSince1970 > 300 { return t }
        let base = try authBase()
        var user: MetadataObject = ["name": .string(credentials.username ?? ""), "password": .string(credentials.password ?? "")]
        user["domain"] = credentials.userDomainID.map { .object(["id": .string($0)]) } ?? .object(["name": .string(credentials.userDomainName)])
        var project = MetadataObject()
        if let id = credentials.projectID { project["id"] = .string(id) } else {
            project["name"] = .string(credentials.projectName ?? "")
            project["domain"] = credentials.projectDomainID.map { .object(["id": .string($0)]) } ?? .object(["name": .string(credentials.projectDomainName)])
        }
        let body: MetadataValue = .object(["auth": .object([
            "identity": .object(["methods": .array([.string("password")]), "password": .object(["user": .object(user)])]),
            "scope": .object(["project": .object(project)]),
        ])])
        var request = HTTPClientRequest(url: "\(base)/auth/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(body)))
        let (status, headers, json) = try await execute(request)
        guard status == 201 || status == 200, let value = headers.first(name: "X-Subject-Token") else {
            throw Failure(description: "Keystone refused the service credentials: HTTP \(status)", permanent: (400..<500).contains(status))
        }
        let expires = json["token"]?["expires_at"]?.stringValue.flatMap(Time.parseISO) ?? Date().timeIntervalSince1970 + 3600
        guard let endpoint = Self.endpoint(in: json, type: "metric", interface: credentials.interface, region: credentials.regionName) else {
            throw Failure(description: "Keystone's catalog has no \(credentials.interface) endpoint of service type 'metric' (Gnocchi)\(credentials.regionName.map { " in region \($0)" } ?? "")", permanent: true)
        }
        let t = (value, expires, endpoint)
        token = t
        return t
    }

    static func endpoint(in token: MetadataValue, type: String, interface: String, region: String?) -> String? {
        guard case .array(let catalog)? = token["token"]?["catalog"] else { return nil }
        for service in catalog where service["type"]?.stringValue == type {
            guard case .array(let endpoints)? = service["endpoints"] else { continue }
            for e in endpoints where e["interface"]?.stringValue == interface {
                if let region, e["region"]?.stringValue != region && e["region_id"]?.stringValue != region { continue }
                if let url = e["url"]?.stringValue { return url }
            }
        }
        return nil
    }

    private func get(_ url: String, token: String) async throws(Failure) -> MetadataValue {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "X-Auth-Token", value: token)
        request.headers.add(name: "Accept", value: "application/json")
        let (status, _, json) = try await execute(request)
        guard (200..<300).contains(status) else { throw Failure(description: "Keystone: HTTP \(status) for \(url)", permanent: (400..<500).contains(status)) }
        return json
    }

    private func execute(_ request: HTTPClientRequest) async throws(Failure) -> (Int, HTTPHeaders, MetadataValue) {
        do {
            let response = try await client.execute(request, timeout: .seconds(clamping: timeout))
            let body = try await response.body.collect(upTo: Self.maxResponse)
            let json = (try? JSONParser.parse(Array(buffer: body))) ?? .null
            return (Int(response.status.code), response.headers, json)
        } catch {
            throw Failure(description: "cannot reach Keystone at \(credentials.authURL ?? "?"): \(error)")
        }
    }
}
