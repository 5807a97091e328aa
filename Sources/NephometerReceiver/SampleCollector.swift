import Crypto
import Foundation
import Logging
import NephometerCore
import NephometerPublishers

/// The receiving end: decodes what publishers send, verifies signatures, de-duplicates by message id
/// within a window, and writes one JSON sample dict a line for every accepted sample.
public actor SampleCollector {
    public struct Counters: Sendable, Equatable, CustomStringConvertible {
        public var received = 0
        public var accepted = 0
        public var rejected = 0
        public var duplicates = 0
        public init(received: Int = 0, accepted: Int = 0, rejected: Int = 0, duplicates: Int = 0) {
            self.received = received
            self.accepted = accepted
            self.rejected = rejected
            self.duplicates = duplicates
        }
        public var description: String {
            "received \(received), accepted \(accepted), rejected \(rejected), duplicates \(duplicates)"
        }
    }

    let secret: String
    let windowSize: Int
    let logger: Logger
    private var counters = Counters()
    private var seen = Set<String>()
    private var order: [String] = []
    private var orderStart = 0
    private let output: FileHandle
    private var buffer: [UInt8] = []
    private let once = LogOnce()

    /// - Parameters:
    ///   - secret: telemetry secret; empty accepts unsigned samples.
    ///   - window: how many recent message ids are remembered for de-duplication.
    public init(secret: String, output: FileHandle, window: Int = 1_000_000, logger: Logger) {
        self.secret = secret
        self.output = output
        windowSize = max(1, window)
        self.logger = logger
    }

    public var counts: Counters { counters }

    // MARK: UDP

    /// One datagram: a msgpack meter message with its own signature.
    public func datagram(_ bytes: [UInt8], from peer: String) {
        counters.received += 1
        let message: MetadataObject
        do {
            guard case .object(let m) = try MsgPackDecoder.decode(bytes) else {
                reject("datagram from \(peer) is not a map")
                return
            }
            message = m
        } catch {
            reject("undecodable datagram from \(peer) (\(bytes.count) bytes): \(error)")
            return
        }
        if !secret.isEmpty {
            guard message[Signature.key] != nil else {
                reject("datagram from \(peer) has no message_signature")
                return
            }
            guard Signature.verify(message, secret: secret) else {
                reject("datagram from \(peer): bad message_signature for message \(message["message_id"]?.stringValue ?? "?")")
                return
            }
        }
        if case .malformed(let why) = accept(message, from: peer) { reject("datagram from \(peer) is malformed: \(why)") }
    }

    // MARK: HTTP

    public enum HTTPOutcome: Sendable, Equatable {
        case ok(accepted: Int)
        case badRequest(String)
        case forbidden(String)
    }

    /// One HTTP body: a JSON list of sample dicts (or one dict), signed as a whole with
    /// `X-Nephometer-Signature`, or made of meter messages that carry their own signatures.
    ///
    /// Parsing and signature checks run outside the collector; accepted samples reach it in chunks, so
    /// a huge body does not hold up datagrams arriving meanwhile. Rejections are summarized in one log
    /// line per request (counts by reason, the first example of each), not one line per item.
    public nonisolated func httpBody(_ body: [UInt8], signature: String?, from peer: String) async -> HTTPOutcome {
        let parsed: MetadataValue
        do {
            parsed = try JSONParser.parse(body)
        } catch {
            await count(received: 1, rejected: 1, log: "HTTP body from \(peer) is not JSON: \(error)")
            return .badRequest("body is not JSON: \(error)")
        }
        let items: [MetadataValue]
        switch parsed {
        case .array(let a): items = a
        case .object: items = [parsed]
        default:
            await count(received: 1, rejected: 1, log: "HTTP body from \(peer) is neither a list nor a sample")
            return .badRequest("expected a JSON list of samples")
        }
        var bodySigned = false
        if !secret.isEmpty, let signature {
            let expected = HTTPSignature.header(body, secret: secret)
            guard Self.constantTimeEqual(expected, signature.lowercased()) else {
                await count(received: items.count, rejected: items.count,
                            log: "HTTP body from \(peer): bad X-Nephometer-Signature; \(items.count) sample(s) rejected")
                return .forbidden("bad X-Nephometer-Signature")
            }
            bodySigned = true
        }
        var report = Rejections()
        var accepted = 0
        var chunk: [MetadataObject] = []
        chunk.reserveCapacity(Self.chunk)
        for (n, item) in items.enumerated() {
            if case .object(let o) = item {
                if !secret.isEmpty, !bodySigned {
                    if o[Signature.key] == nil { report.add("no signature (neither X-Nephometer-Signature nor message_signature)") }
                    else if !Signature.verify(o, secret: secret) { report.add("bad message_signature") }
                    else { chunk.append(o) }
                } else {
                    chunk.append(o)
                }
            } else {
                report.add("an item is not a sample dict")
            }
            if chunk.count == Self.chunk || n == items.count - 1 {
                accepted += await absorb(chunk, from: peer, into: &report)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        await count(received: items.count, rejected: report.total,
                    log: report.total == 0 ? nil : "HTTP body from \(peer): \(report.total) of \(items.count) item(s) rejected: \(report.summary)")
        return .ok(accepted: accepted)
    }

    /// Items handed to the collector at a time.
    static let chunk = 2_000

    /// Why items of one request were rejected: counts by reason, in first-seen order.
    struct Rejections: Sendable {
        private(set) var total = 0
        private var reasons: [(String, Int)] = []
        mutating func add(_ reason: String) {
            total += 1
            if let i = reasons.firstIndex(where: { $0.0 == reason }) { reasons[i].1 += 1 }
            else if reasons.count < 5 { reasons.append((reason, 1)) }
        }
        var summary: String { reasons.map { "\($0.0) ×\($0.1)" }.joined(separator: "; ") }
    }

    private func count(received: Int, rejected: Int, log: String?) {
        counters.received += received
        counters.rejected += rejected
        if let log { logger.warning("rejected: \(log)") }
    }

    /// Accepts checked dicts (malformed ones are rejected into `report`); returns how many were new.
    private func absorb(_ dicts: [MetadataObject], from peer: String, into report: inout Rejections) -> Int {
        var n = 0
        for d in dicts {
            switch accept(d, from: peer) {
            case .accepted: n += 1
            case .duplicate: break
            case .malformed(let why): report.add("malformed sample: \(why)")
            }
        }
        return n
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var d: UInt8 = 0
        for i in 0..<x.count { d |= x[i] ^ y[i] }
        return d == 0
    }

    // MARK: Common

    /// Counts a rejected datagram; logs at most `logBurst` lines per `logWindow` seconds, then one line
    /// saying how many more were rejected (a flood of bad datagrams must not flood the log).
    private func reject(_ why: String) {
        counters.rejected += 1
        let now = Time.monotonic()
        if now - windowStart >= Self.logWindow {
            if suppressed > 0 { logger.warning("rejected: \(suppressed) more datagram(s) in the last \(Int(Self.logWindow)) s (not logged one by one)") }
            windowStart = now
            logged = 0
            suppressed = 0
        }
        if logged < Self.logBurst {
            logged += 1
            logger.warning("rejected: \(why)")
        } else {
            suppressed += 1
        }
    }

    static let logBurst = 10
    static let logWindow = 10.0
    private var windowStart = 0.0
    private var logged = 0
    private var suppressed = 0

    enum Acceptance { case accepted, duplicate, malformed(String) }

    @discardableResult
    private func accept(_ dict: MetadataObject, from peer: String) -> Acceptance {
        let sample: Sample
        do {
            sample = try Sample(dict: dict)
        } catch {
            return .malformed("\(error)")
        }
        guard seen.insert(sample.id).inserted else {
            counters.duplicates += 1
            return .duplicate
        }
        order.append(sample.id)
        if order.count - orderStart > windowSize {
            seen.remove(order[orderStart])
            orderStart += 1
            if orderStart > windowSize { order.removeFirst(orderStart); orderStart = 0 }
        }
        counters.accepted += 1
        JSONWriter.write(.object(sample.asDict), into: &buffer)
        buffer.append(0x0A)
        if buffer.count >= 64 << 10 { flush() }
        return .accepted
    }

    /// Writes buffered lines out.
    public func flush() {
        guard !buffer.isEmpty else { return }
        output.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
