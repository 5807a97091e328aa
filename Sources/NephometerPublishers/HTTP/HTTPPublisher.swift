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
/// body, byte for byte) with connection reuse, and loses nothing while the endpoint is down.
///
/// Every batch is written to the publisher's on-disk spool before `publish` returns; a delivery task
/// sends the spool in order. 2xx removes a batch; 5xx, 429 and connection errors keep it and retry with
/// exponential backoff and jitter; any other 4xx is permanent: logged with the response body and the
/// batch dropped. Delivery is at least once; every sample carries its id for de-duplication.
/// With a telemetry secret, `X-Nephometer-Signature` carries the hex HMAC-SHA256 of the body.
public actor HTTPPublisher: Publisher {
    public nonisolated let displayURL: String
    let options: HTTPPublisherOptions
    let spool: Spool
    let clientConfiguration: HTTPClient.Configuration
    private var owned: OwnedHTTPClient?
    let secret: String
    let logger: Logger
    private var wake: AsyncStream<Void>.Continuation?
    private var delivery: Task<Void, Never>?
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var failing = false
    private let once = LogOnce()
    /// Batches refused permanently (4xx other than 429).
    public private(set) var refused = 0
    public private(set) var delivered = 0

    public init(url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) {
        let options = try HTTPPublisherOptions(url)
        self.options = options
        displayURL = url.redacted
        secret = context.telemetrySecret
        self.logger = logger
        let dir = "\(context.spoolDirectory)/\(url.scheme)-\(Self.spoolName(url.redacted))"
        do {
            spool = try Spool(directory: dir, limits: context.spoolLimits, logger: logger)
        } catch {
            throw PublisherURLError("cannot use spool directory \(dir): \(error)")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if !options.verifySSL { tls.certificateVerification = .none }
        if let ca = options.caBundle { tls.trustRoots = .file(ca) }
        if let cert = options.clientCert {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: options.clientKey ?? cert, format: .pem))
            } catch {
                throw PublisherURLError("cannot load clientcert/clientkey \(cert): \(error)")
            }
        }
        var config = HTTPClient.Configuration(tlsConfiguration: tls)
        config.timeout = .init(connect: .milliseconds(Int64(options.timeout * 1000)), read: .milliseconds(Int64(options.timeout * 1000)))
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 4)
        clientConfiguration = config
    }

    /// The HTTP client, created on first use (connections are reused across batches).
    private var client: HTTPClient {
        if let owned { return owned.client }
        let o = OwnedHTTPClient(HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration))
        owned = o
        return o.client
    }

    static func spoolName(_ url: String) -> String {
        Hex.string(SHA256.hash(data: Array(url.utf8)).prefix(8))
    }

    public func publish(_ samples: [Sample]) async {
        guard !samples.isEmpty else { return }
        let bodies = options.batch ? [HTTPBody.json(samples)] : samples.map { JSONWriter.bytes(.object($0.asDict)) }
        for b in bodies {
            do {
                try spool.append(b)
            } catch {
                logger.error("http publisher \(displayURL): cannot spool a batch of \(samples.count) sample(s): \(error); sending it without a spool")
            }
        }
        startDelivery()
        wake?.yield()
    }

    private func startDelivery() {
        guard delivery == nil else { return }
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wake = continuation
        delivery = Task { [weak self] in
            for await _ in stream {
                guard let self else { return }
                await self.drain()
            }
        }
        wake?.yield()
    }

    /// Delivers spooled batches oldest first until the spool is empty or the task is cancelled.
    private func drain() async {
        var backoff = 1.0
        while !Task.isCancelled, let entry = spool.oldest() {
            switch await send(entry.body) {
            case .delivered:
                spool.remove(entry.sequence)
                delivered += 1
                backoff = 1
                if failing {
                    failing = false
                    logger.notice("http publisher \(displayURL): endpoint reachable again; \(spool.count) batch(es) still spooled")
                }
            case .refused(let status, let body):
                spool.remove(entry.sequence)
                refused += 1
                logger.error("http publisher \(displayURL): batch refused with HTTP \(status), dropped (not retried): \(body)")
            case .retry(let why):
                if !failing {
                    failing = true
                    logger.warning("http publisher \(displayURL): \(why); spooling to \(spool.directory) and retrying with backoff")
                }
                resumeIdleWaiters()
                let jittered = backoff * Double.random(in: 0.5...1.5)
                try? await Task.sleep(for: .milliseconds(Int(jittered * 1000)))
                backoff = min(backoff * 2, 60)
            }
        }
        resumeIdleWaiters()
    }

    enum Outcome {
        case delivered
        case refused(Int, String)
        case retry(String)
    }

    private func send(_ body: [UInt8]) async -> Outcome {
        var request = HTTPClientRequest(url: options.target)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "nephometer")
        if let auth = options.basicAuth {
            let token = Data("\(auth.user):\(auth.password)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(token)")
        }
        if !secret.isEmpty {
            request.headers.add(name: HTTPSignature.headerName, value: HTTPSignature.header(body, secret: secret))
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        var lastError = ""
        for attempt in 0...options.maxRetries {
            do {
                let response = try await client.execute(request, timeout: .milliseconds(Int64(options.timeout * 1000)))
                let status = Int(response.status.code)
                let text = String(buffer: try await response.body.collect(upTo: 64 << 10))
                if (200..<300).contains(status) { return .delivered }
                if status == 429 || status >= 500 { return .retry("HTTP \(status) \(text.prefix(200))") }
                return .refused(status, String(text.prefix(1024)))
            } catch {
                lastError = "\(error)"
                if attempt < options.maxRetries { continue }
            }
        }
        return .retry("cannot reach \(displayURL): \(lastError)")
    }

    private func resumeIdleWaiters() {
        let w = idleWaiters
        idleWaiters = []
        for c in w { c.resume() }
    }

    /// Waits until the spool is empty, or the endpoint is failing (then the spool holds the rest).
    public func flush() async {
        guard spool.count > 0, delivery != nil else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    /// Delivers what it can within the timeout, then stops; what remains stays spooled for the next start.
    public func close() async {
        if spool.count > 0, !failing {
            let deadline = ContinuousClock.now + .milliseconds(Int(options.timeout * 1000))
            while spool.count > 0, !failing, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        delivery?.cancel()
        wake?.finish()
        delivery = nil
        resumeIdleWaiters()
        if let owned {
            self.owned = nil
            await owned.shutdown()
        }
    }

    public var spooled: Int { spool.count }
}

/// The HTTP publisher's request body.
public enum HTTPBody {
    /// Python's `json.dumps([sample.as_dict(), ...])`, Ceilometer's batch body.
    public static func json(_ samples: some Collection<Sample>) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(samples.count * 1100)
        var first = true
        for s in samples {
            if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
            first = false
            JSONWriter.write(.object(s.asDict), into: &out)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
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
