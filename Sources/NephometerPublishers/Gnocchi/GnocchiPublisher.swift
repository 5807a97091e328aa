import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NephometerCore

/// `gnocchi://?options`: Ceilometer 27's Gnocchi publisher. Per batch: archive policies ensured once;
/// samples of Gnocchi's own project filtered out; measures grouped by resource and metric and sent in
/// one `POST /v1/batch/resources/metrics/measures?create_metrics=true`; on Gnocchi's "Unknown
/// resources" the missing resources are created with the attributes `gnocchi_resources.yaml` defines
/// and the batch sent again; attribute changes go out as a PATCH only when they change (cached).
/// Batches go through the shared `Delivery` (spool, retries, bounds) as JSON lists of sample dicts.
public final class GnocchiPublisher: Publisher {
    public let displayURL: String
    public let delivery: Delivery

    init(url: PublisherURL, options: GnocchiOptions, context: PublisherContext, logger: Logger) throws(PublisherURLError) {
        displayURL = url.redacted
        let resources = try GnocchiResources(file: options.resourcesFile, archivePolicyOverride: options.archivePolicy)
        let transport = GnocchiTransport(options: options, resources: resources, credentials: context.serviceCredentials, logger: logger)
        var d = context.delivery
        d.spoolDirectory = "\(context.spoolDirectory)/gnocchi-" + Hex.string(SHA256.hash(data: Array(url.redacted.utf8)).prefix(8))
        delivery = Delivery(name: "gnocchi publisher \(displayURL)", transport: transport, options: d, logger: logger)
    }

    public func run() async { await delivery.run() }
    public func deliveryStatistics() async -> DeliveryStatistics? { await delivery.statistics }
    public func flush() async { await delivery.flush() }
    public func close() async { await delivery.close(grace: 5) }

    public func publish(_ samples: [Sample]) async {
        guard !samples.isEmpty else { return }
        await delivery.submit(DeliveryBatch(body: HTTPBody.json(samples), samples: samples.count))
    }
}

struct GnocchiOptions: Sendable {
    var filterProject = true
    var projectName = "service"
    var domainName = "Default"
    var archivePolicy: String?
    var resourcesFile: String
    var timeout = 6.05

    static let keys = ["enable_filter_project", "filter_project", "filter_domain", "archive_policy", "resources_definition_file", "timeout"]

    init(_ url: PublisherURL, configDirectory: String?) throws(PublisherURLError) {
        for (k, _) in url.query where !Self.keys.contains(k) {
            throw PublisherURLError("unknown gnocchi:// option '\(k)'\(Suggestion.hint(for: k, in: Self.keys)); options: \(Self.keys.joined(separator: ", "))")
        }
        if let v = url.queryValue("enable_filter_project") {
            switch v.lowercased() {
            case "true", "yes", "on", "1", "y", "t": filterProject = true
            case "false", "no", "off", "0", "n", "f": filterProject = false
            default: throw PublisherURLError("gnocchi:// enable_filter_project=\(v.prefix(20)) must be true or false")
            }
        }
        if let v = url.queryValue("filter_project") { projectName = v }
        if let v = url.queryValue("filter_domain") { domainName = v }
        if let v = url.queryValue("archive_policy"), !v.isEmpty { archivePolicy = v }
        if let v = url.queryValue("timeout") {
            guard let t = Double(v), t.isFinite, t > 0, t <= 600 else { throw PublisherURLError("gnocchi:// timeout=\(v.prefix(20)) must be seconds from 0 to 600") }
            timeout = t
        }
        let name = url.queryValue("resources_definition_file") ?? "gnocchi_resources.yaml"
        resourcesFile = Self.find(name, configDirectory: configDirectory)
    }

    /// As oslo.config's find_file: an absolute path, else next to the config files, else the sample
    /// shipped in etc/ (installed under /etc/nephometer).
    static func find(_ name: String, configDirectory: String?) -> String {
        if name.hasPrefix("/") { return name }
        let candidates = [configDirectory.map { ($0 as NSString).appendingPathComponent(name) }, "etc/\(name)", "/etc/nephometer/\(name)", "/etc/ceilometer/\(name)"]
        // Not found: the built-in copy of etc/gnocchi_resources.yaml (GnocchiDefaultResources).
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) } ?? name
    }
}

/// One attempt: the whole Gnocchi exchange for one batch.
struct GnocchiTransport: DeliveryTransport {
    let options: GnocchiOptions
    let resources: GnocchiResources
    let auth: GnocchiAuth
    let owned: OwnedHTTPClient
    let logger: Logger
    private let state = GnocchiState()

    init(options: GnocchiOptions, resources: GnocchiResources, credentials: ServiceCredentials, logger: Logger) {
        self.options = options
        self.resources = resources
        self.logger = logger
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(clamping: options.timeout), read: .seconds(clamping: options.timeout))
        config.tlsConfiguration = try? ClientTLS.configuration(verify: !credentials.insecure, caFile: credentials.cafile, names: "cafile")
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        owned = OwnedHTTPClient(client)
        auth = GnocchiAuth(credentials: credentials, client: client, timeout: options.timeout)
    }

    struct Attempt: Error { let outcome: DeliveryOutcome }

    func send(_ batch: DeliveryBatch) async -> DeliveryOutcome {
        guard case .array(let items) = (try? JSONParser.parse(batch.body)) ?? .null else { return .refused("the spooled batch is not a JSON list") }
        let samples = items.compactMap { v -> Sample? in if case .object(let o) = v { return try? Sample(dict: o) }; return nil }
        do {
            try await publish(samples)
            return .delivered
        } catch {
            return error.outcome
        }
    }

    func probe() async -> Bool {
        guard let s = try? await auth.session() else { return false }
        return (try? await request(.GET, s.endpoint + "/", headers: s.headers, body: nil)) != nil
    }

    func shutdown() async { await owned.shutdown() }

    private func publish(_ all: [Sample]) async throws(Attempt) {
        let s: (endpoint: String, headers: HTTPHeaders)
        do { s = try await auth.session() } catch { throw Attempt(outcome: .failed(error.description)) }
        if await !state.policiesEnsured {
            for p in resources.archivePolicies {
                let (status, text) = try await request(.POST, s.endpoint + "/v1/archive_policy", headers: s.headers, body: .object(p))
                if !(200..<300).contains(status) && status != 409 {
                    logger.warning("gnocchi: cannot create archive policy \(p["name"]?.stringValue ?? ""): HTTP \(status) \(text.prefix(200))")
                }
            }
            await state.setPoliciesEnsured()
        }
        var samples = all
        if options.filterProject {
            if auth.usesKeystone {
                do {
                    if let id = try await auth.projectID(options.projectName, domain: options.domainName) {
                        samples.removeAll { $0.projectID == id || ($0.name.hasPrefix("storage.") && $0.resourceID == id) }
                    }
                } catch {
                    throw Attempt(outcome: .failed("gnocchi: cannot look up filter_project \(options.projectName): \(error)"))
                }
            } else if await state.noteFilterUnavailable() {
                let type = auth.credentials.authType
                logger.warning("gnocchi: enable_filter_project needs Keystone (auth_type password); with \(type) nothing is filtered")
            }
        }
        // Group as Ceilometer does: by resource, then metric.
        var measures: [String: [(String, MetadataObject)]] = [:]
        var order: [String] = []
        var infos: [String: (type: String, resource: MetadataObject, extra: MetadataObject)] = [:]
        for sample in samples.sorted(by: { $0.resourceID < $1.resourceID }) {
            guard let rt = resources.byMetric[sample.name] else {
                if await state.noteUnhandled(sample.name) { logger.warning("gnocchi: metric \(sample.name) is not handled by Gnocchi (no resource type in \(options.resourcesFile) lists it)") }
                continue
            }
            let rid = sample.resourceID.replacingOccurrences(of: "/", with: "_")
            if infos[rid] == nil {
                infos[rid] = (rt.name, ["id": .string(rid), "user_id": .optionalString(sample.userID)], [:])
                order.append(rid)
            }
            var extra = infos[rid]?.extra ?? [:]
            extra["project_id"] = .optionalString(sample.projectID)
            let dict = MetadataValue.object(sample.asDict)
            for (name, path) in rt.attributes { if let v = path.value(in: dict) { extra[name] = v } }
            infos[rid]?.extra = extra
            var metrics = measures[rid] ?? []
            let point: MetadataValue = .object(["timestamp": .optionalString(sample.timestamp), "value": .number(sample.volume)])
            if let i = metrics.firstIndex(where: { $0.0 == sample.name }) {
                if case .array(var points)? = metrics[i].1["measures"] { points.append(point); metrics[i].1["measures"] = .array(points) }
            } else {
                metrics.append((sample.name, ["measures": .array([point]), "archive_policy_name": .string(rt.metrics[sample.name] ?? resources.archivePolicyDefault),
                                              "unit": .string(sample.unit)]))
            }
            measures[rid] = metrics
        }
        guard !order.isEmpty else { return }
        func body() -> MetadataValue {
            .object(MetadataObject(order.compactMap { rid in measures[rid].map { (rid, MetadataValue.object(MetadataObject($0.map { ($0.0, .object($0.1)) }))) } }))
        }
        let batchURL = s.endpoint + "/v1/batch/resources/metrics/measures?create_metrics=true"
        var (status, text) = try await request(.POST, batchURL, headers: s.headers, body: body())
        if status == 400, let unknown = Self.unknownResources(text) {
            for rid in unknown {
                guard let info = infos[rid] else { continue }
                var resource = info.resource
                for (k, v) in info.extra { resource[k] = v }
                let (cs, ct) = try await request(.POST, s.endpoint + "/v1/resource/\(info.type)", headers: s.headers, body: .object(resource))
                if (200..<300).contains(cs) || cs == 409 {
                    await state.cache(rid, Self.hash(info.extra))
                } else {
                    logger.error("gnocchi: cannot create resource \(rid) of type \(info.type): HTTP \(cs) \(ct.prefix(300)); its measures are dropped")
                    measures[rid] = nil
                    infos[rid] = nil
                    order.removeAll { $0 == rid }
                }
            }
            if order.isEmpty { return }
            (status, text) = try await request(.POST, batchURL, headers: s.headers, body: body())
        }
        if status == 401 { await auth.invalidate(); throw Attempt(outcome: .failed("gnocchi: HTTP 401 (token expired or revoked)")) }
        if status >= 500 || status == 429 { throw Attempt(outcome: .failed("gnocchi: HTTP \(status) \(text.prefix(200))")) }
        if !(200..<300).contains(status) { throw Attempt(outcome: .refused("gnocchi: HTTP \(status): \(text.prefix(1024))")) }
        for rid in order {
            guard let info = infos[rid], !info.extra.isEmpty else { continue }
            let h = Self.hash(info.extra)
            guard await state.changed(rid, h) else { continue }
            let (ps, pt) = try await request(.PATCH, s.endpoint + "/v1/resource/\(info.type)/\(Self.pathEscape(rid))", headers: s.headers, body: .object(info.extra))
            if (200..<300).contains(ps) { await state.cache(rid, h) } else {
                logger.error("gnocchi: cannot update resource \(rid) of type \(info.type): HTTP \(ps) \(pt.prefix(300))")
            }
        }
    }

    /// The original ids Gnocchi says it does not know (`{"cause": "Unknown resources", "detail": [{"original_resource_id": …}]}`).
    static func unknownResources(_ text: String) -> [String]? {
        guard let v = try? JSONParser.parse(text), let d = v["description"], d["cause"]?.stringValue == "Unknown resources",
              case .array(let detail)? = d["detail"] else { return nil }
        return detail.compactMap { $0["original_resource_id"]?.stringValue ?? $0["resource_id"]?.stringValue }
    }

    /// Ceilometer's cache key: blake2b of the sorted, compact JSON; here SHA-256 of our JSON (only
    /// compared with itself).
    static func hash(_ extra: MetadataObject) -> String {
        let sorted = MetadataObject(extra.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        return Hex.string(SHA256.hash(data: JSONWriter.bytes(.object(sorted))))
    }

    static func pathEscape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? s }

    /// The largest Gnocchi response read.
    static let maxResponse = 4 << 20

    private func request(_ method: HTTPMethod, _ url: String, headers: HTTPHeaders, body: MetadataValue?) async throws(Attempt) -> (Int, String) {
        var r = HTTPClientRequest(url: url)
        r.method = method
        r.headers = headers
        if let body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(body)))
        }
        do {
            let response = try await owned.client.execute(r, timeout: .seconds(clamping: options.timeout))
            let text = String(buffer: try await response.body.collect(upTo: Self.maxResponse))
            return (Int(response.status.code), text)
        } catch {
            throw Attempt(outcome: .failed("cannot reach Gnocchi at \(url.prefix(80)): \(error)"))
        }
    }
}

/// What the Gnocchi transport remembers between batches.
actor GnocchiState {
    private(set) var policiesEnsured = false
    private var hashes: [String: String] = [:]
    private var unhandled: Set<String> = []
    private var filterWarned = false

    func setPoliciesEnsured() { policiesEnsured = true }
    func cache(_ rid: String, _ hash: String) {
        if hashes.count > 1_000_000 { hashes.removeAll() }   // bounded: a cleared cache costs one PATCH per resource
        hashes[rid] = hash
    }
    func changed(_ rid: String, _ hash: String) -> Bool { hashes[rid] != hash }
    func noteUnhandled(_ name: String) -> Bool { unhandled.insert(name).inserted && unhandled.count < 10_000 }
    func noteFilterUnavailable() -> Bool { defer { filterWarned = true }; return !filterWarned }
}

struct GnocchiPublisherKind: PublisherKind {
    let schemes = ["gnocchi"]
    func check(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError) {
        let o = try GnocchiOptions(url, configDirectory: context.configDirectory)
        _ = try GnocchiResources(file: o.resourcesFile, archivePolicyOverride: o.archivePolicy)
        // Missing service_credentials are not an error here (Ceilometer's own pipeline.yaml names
        // gnocchi:// and must validate anywhere); at run time each outage logs why.
    }
    func make(_ url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> any Publisher {
        try GnocchiPublisher(url: url, options: try GnocchiOptions(url, configDirectory: context.configDirectory), context: context, logger: logger)
    }
}
