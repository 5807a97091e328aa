import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NephometerCore
import Synchronization

/// `http(s)://[user:pass@]host[:port]/path?options`: POSTs JSON lists of sample dicts (Ceilometer's
/// body, byte for byte) with connection reuse. Order, the spool, retries and bounds are the shared
/// `Delivery`'s: nothing is lost while the endpoint is down.
///
/// 2xx delivers a batch; 5xx, 429 and connection errors retry it with backoff; any other 4xx is
/// permanent: logged with the response body and the batch dropped and counted. Delivery is at least
/// once; every sample carries its id for de-duplication. With a telemetry secret,
/// `X-Nephometer-Signature` carries the hex HMAC-SHA256 of the body.
public final class HTTPPublisher: Publisher {
    public let displayURL: String
    let options: HTTPPublisherOptions
    public let delivery: Delivery

    public init(url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) {
        let options = try HTTPPublisherOptions(url)
        self.options = options
        displayURL = url.redacted
        let transport = try HTTPTransport(options: options, secret: context.telemetrySecret, displayURL: displayURL)
        var d = context.delivery
        d.spoolDirectory = "\(context.spoolDirectory)/\(url.scheme)-\(Self.spoolName(url.redacted))"
        d.retries = options.maxRetries
        delivery = Delivery(name: "http publisher \(displayURL)", transport: transport, options: d, logger: logger)
    }

    public func run() async { await delivery.run() }
    public func deliveryStatistics() async -> DeliveryStatistics? { await delivery.statistics }

    static func spoolName(_ url: String) -> String {
        Hex.string(SHA256.hash(data: Array(url.utf8)).prefix(8))
    }

    public func publish(_ samples: [Sample]) async {
        guard !samples.isEmpty else { return }
        if options.batch {
            await delivery.submit(DeliveryBatch(body: HTTPBody.json(samples), samples: samples.count))
        } else {
            for s in samples {
                var body: [UInt8] = []
                s.writeJSON(into: &body)
                await delivery.submit(DeliveryBatch(body: body, samples: 1))
            }
        }
    }

    public func flush() async { await delivery.flush() }

    /// Delivers what it can within the timeout, then stops; what remains stays spooled for the next start.
    public func close() async { await delivery.close(grace: options.timeout) }

    /// Batches waiting (in memory or spooled).
    public var spooled: Int { get async { await delivery.statistics.queuedBatches } }
    public var refused: Int { get async { await delivery.statistics.refusedBatches } }
    public var delivered: Int { get async { await delivery.statistics.deliveredBatches } }
}

/// One POST per attempt; the delivery layer decides what happens next.
struct HTTPTransport: DeliveryTransport {
    let options: HTTPPublisherOptions
    let secret: String
    let displayURL: String
    let owned: OwnedHTTPClient

    init(options: HTTPPublisherOptions, secret: String, displayURL: String) throws(PublisherURLError) {
        self.options = options
        self.secret = secret
        self.displayURL = displayURL
        var config = HTTPClient.Configuration(tlsConfiguration: try Self.tls(options))
        let timeout = TimeAmount.seconds(clamping: options.timeout)
        config.timeout = .init(connect: timeout, read: timeout)
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 4)
        owned = OwnedHTTPClient(HTTPClient(eventLoopGroupProvider: .singleton, configuration: config))
    }

    /// The TLS settings of the options, with the client certificate and key loaded (what `validate`
    /// checks too).
    static func tls(_ options: HTTPPublisherOptions) throws(PublisherURLError) -> TLSConfiguration {
        try ClientTLS.configuration(verify: options.verifySSL, caFile: options.caBundle, certFile: options.clientCert,
                                    keyFile: options.clientKey, names: "clientcert/clientkey")
    }

    func send(_ batch: DeliveryBatch) async -> DeliveryOutcome {
        var request = HTTPClientRequest(url: options.target)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "nephometer")
        if let auth = options.basicAuth {
            let token = Data("\(auth.user):\(auth.password)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(token)")
        }
        if !secret.isEmpty {
            request.headers.add(name: HTTPSignature.headerName, value: HTTPSignature.header(batch.body, secret: secret))
        }
        request.body = .bytes(ByteBuffer(bytes: batch.body))
        do {
            let response = try await owned.client.execute(request, timeout: .seconds(clamping: options.timeout))
            let status = Int(response.status.code)
            let text = String(buffer: try await response.body.collect(upTo: 64 << 10))
            if (200..<300).contains(status) { return .delivered }
            if status == 429 || status >= 500 { return .failed("HTTP \(status) \(text.prefix(200))") }
            return .refused("HTTP \(status): \(text.prefix(1024))")
        } catch {
            return .failed("cannot reach \(displayURL): \(error)")
        }
    }

    /// Any HTTP answer to a HEAD of the target, within a second.
    func probe() async -> Bool {
        var request = HTTPClientRequest(url: options.target)
        request.method = .HEAD
        do {
            _ = try await owned.client.execute(request, timeout: .seconds(clamping: min(1, options.timeout)))
            return true
        } catch {
            return false
        }
    }

    func shutdown() async { await owned.shutdown() }
}

/// The HTTP publisher's request body.
public enum HTTPBody {
    /// Python's `json.dumps([sample.as_dict(), ...])`, Ceilometer's batch body.
    public static func json(_ samples: some Collection<Sample>) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        // Room for the bodies seen so far, so that a body is written into one buffer rather than grown
        // into one of twice its size (the bodies waiting for the far end are most of the agent's heap).
        out.reserveCapacity(samples.count * perSample.load(ordering: .relaxed) + 16)
        var first = true
        for s in samples {
            if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
            first = false
            s.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
        if !samples.isEmpty { perSample.store(out.count / samples.count + 64, ordering: .relaxed) }
        // A body that outgrew the estimate sits in a buffer of up to twice its size, and bodies wait in
        // memory (Delivery's `aheadBytes` counts their bytes, not their buffers): a copy of its size.
        guard out.capacity - out.count > out.count / 8 else { return out }
        return out.withUnsafeBufferPointer { Array($0) }
    }

    /// Bytes per sample of the last body, a little more (the next body's estimate).
    private static let perSample = Synchronization.Atomic<Int>(1100)
}

/// An HTTP client shut down when released, even if its owner was never closed (AsyncHTTPClient
/// requires an explicit shutdown).
public final class OwnedHTTPClient: Sendable {
    public let client: HTTPClient
    private let closed = ManagedAtomicFlag()
    public init(_ client: HTTPClient) { self.client = client }
    public func shutdown() async {
        guard closed.set() else { return }
        try? await client.shutdown()
    }
    deinit {
        if closed.set() { client.shutdown { _ in } }
    }
}

/// A flag that can be set once.
final class ManagedAtomicFlag: Sendable {
    private let value = Synchronization.Atomic<Bool>(false)
    /// Sets the flag; true if this call set it.
    func set() -> Bool { !value.exchange(true, ordering: .acquiringAndReleasing) }
}

extension TimeAmount {
    /// Seconds as a `TimeAmount`, clamped to what it can hold (never traps on a huge or odd value).
    public static func seconds(clamping s: Double) -> TimeAmount {
        guard s.isFinite, s > 0 else { return .nanoseconds(s.isNaN || s <= 0 ? 0 : Int64.max) }
        let ns = s * 1e9
        return .nanoseconds(ns >= 9.2e18 ? Int64.max : Int64(ns))
    }
}
