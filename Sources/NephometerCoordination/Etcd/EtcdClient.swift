import AsyncHTTPClient
import Foundation
import NIOCore
import NephometerCore
import NephometerPublishers

/// etcd's v3 JSON gateway (`/v3/...`): keys and values base64, int64s as strings.
final class EtcdClient: Sendable {
    let endpoint: String
    let requests: OwnedHTTPClient
    let watches: OwnedHTTPClient
    let timeout: TimeAmount

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(endpoint: String, timeout: Double) {
        self.endpoint = endpoint
        self.timeout = .milliseconds(Int64(max(1, timeout) * 1000))
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(3), read: .seconds(10))
        requests = OwnedHTTPClient(HTTPClient(eventLoopGroupProvider: .singleton, configuration: config))
        var watchConfig = HTTPClient.Configuration()
        watchConfig.timeout = .init(connect: .seconds(3), read: nil)
        watches = OwnedHTTPClient(HTTPClient(eventLoopGroupProvider: .singleton, configuration: watchConfig))
    }

    /// Largest etcd response read (a group of thousands of members is a few hundred KiB).
    static let maxResponse = 16 << 20
    /// Longest line of a watch stream.
    static let maxWatchLine = 4 << 20

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
    static func b64(_ b: [UInt8]) -> String { Data(b).base64EncodedString() }
    static func unb64(_ s: String?) -> [UInt8] { s.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [] }

    /// The key just after every key with `prefix` (its last byte + 1).
    static func rangeEnd(_ prefix: String) -> String {
        var b = Array(prefix.utf8)
        if let last = b.indices.last { b[last] &+= 1 }
        return b64(b)
    }

    func post(_ path: String, _ body: MetadataObject) async throws -> MetadataValue {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(.object(body))))
        let response = try await requests.client.execute(request, timeout: .seconds(10))
        let bytes = Array(buffer: try await response.body.collect(upTo: Self.maxResponse))
        let value = (try? JSONParser.parse(bytes)) ?? .null
        guard response.status.code == 200 else {
            throw Failure(description: "etcd \(path): HTTP \(response.status.code) \(value["error"]?.stringValue ?? String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        return value
    }

    func grant(ttl: Int) async throws -> String {
        let r = try await post("/v3/lease/grant", ["TTL": .int(ttl), "ID": .int(0)])
        guard let id = r["ID"]?.stringValue else { throw Failure(description: "etcd lease grant: no ID in \(JSONWriter.string(r))") }
        return id
    }

    /// Remaining TTL, or nil when the lease has expired.
    func keepAlive(_ lease: String) async throws -> Int? {
        let r = try await post("/v3/lease/keepalive", ["ID": .string(lease)])
        return r["result"]?["TTL"]?.stringValue.flatMap(Int.init)
    }

    func put(key: String, value: [UInt8], lease: String?) async throws {
        var body: MetadataObject = ["key": .string(Self.b64(key)), "value": .string(Self.b64(value))]
        if let lease { body["lease"] = .string(lease) }
        _ = try await post("/v3/kv/put", body)
    }

    /// Creates `key` (value = the key's bytes, as tooz does) when it does not exist.
    func createIfAbsent(key: String) async throws {
        _ = try await post("/v3/kv/txn", [
            "compare": .array([.object(["key": .string(Self.b64(key)), "result": .string("EQUAL"),
                                        "target": .string("VERSION"), "version": .int(0)])]),
            "success": .array([.object(["request_put": .object(["key": .string(Self.b64(key)), "value": .string(Self.b64(key))])])]),
            "failure": .array([]),
        ])
    }

    func delete(key: String) async throws {
        _ = try await post("/v3/kv/deleterange", ["key": .string(Self.b64(key))])
    }

    /// Keys (raw bytes) and values under `prefix`, and the store revision they were read at.
    func range(prefix: String) async throws -> (kvs: [(key: [UInt8], value: [UInt8])], revision: Int64) {
        let r = try await post("/v3/kv/range", ["key": .string(Self.b64(prefix)), "range_end": .string(Self.rangeEnd(prefix))])
        var out: [([UInt8], [UInt8])] = []
        if case .array(let kvs)? = r["kvs"] {
            for kv in kvs { out.append((Self.unb64(kv["key"]?.stringValue), Self.unb64(kv["value"]?.stringValue))) }
        }
        let revision = r["header"]?["revision"]?.stringValue.flatMap(Int64.init) ?? 0
        return (out, revision)
    }

    enum WatchEvent: Sendable {
        case put(key: [UInt8], value: [UInt8])
        case delete(key: [UInt8])
    }

    /// Streams events under `prefix` from `revision` until the stream ends or fails.
    func watch(prefix: String, from revision: Int64, _ handle: @Sendable ([WatchEvent]) async -> Void) async throws {
        var request = HTTPClientRequest(url: endpoint + "/v3/watch")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let create: MetadataObject = ["create_request": .object([
            "key": .string(Self.b64(prefix)), "range_end": .string(Self.rangeEnd(prefix)),
            "start_revision": .string(String(revision)),
        ])]
        request.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(.object(create))))
        let response = try await watches.client.execute(request, deadline: .distantFuture)
        guard response.status.code == 200 else { throw Failure(description: "etcd watch: HTTP \(response.status.code)") }
        var pending: [UInt8] = []
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            if pending.count > Self.maxWatchLine, !pending.contains(0x0A) {
                throw Failure(description: "etcd watch: a line longer than \(Self.maxWatchLine) bytes")
            }
            while let nl = pending.firstIndex(of: 0x0A) {
                let line = Array(pending[..<nl])
                pending.removeSubrange(...nl)
                guard let v = try? JSONParser.parse(line) else { continue }
                if let err = v["error"] { throw Failure(description: "etcd watch: \(JSONWriter.string(err))") }
                guard case .array(let events)? = v["result"]?["events"] else { continue }
                var out: [WatchEvent] = []
                for e in events {
                    let key = Self.unb64(e["kv"]?["key"]?.stringValue)
                    if e["type"]?.stringValue == "DELETE" { out.append(.delete(key: key)) }
                    else { out.append(.put(key: key, value: Self.unb64(e["kv"]?["value"]?.stringValue))) }
                }
                await handle(out)
            }
        }
        throw Failure(description: "etcd watch stream ended")
    }

    func shutdown() async {
        await requests.shutdown()
        await watches.shutdown()
    }
}
