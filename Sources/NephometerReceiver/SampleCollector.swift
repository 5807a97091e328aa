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
        accept(message, from: peer)
    }

    // MARK: HTTP

    public enum HTTPOutcome: Sendable, Equatable {
        case ok(accepted: Int)
        case badRequest(String)
        case forbidden(String)
    }

    /// One HTTP body: a JSON list of sample dicts (or one dict), signed as a whole with
    /// `X-Nephometer-Signature`, or made of meter messages that carry their own signatures.
    public func httpBody(_ body: [UInt8], signature: String?, from peer: String) -> HTTPOutcome {
        let parsed: MetadataValue
        do {
            parsed = try JSONParser.parse(body)
        } catch {
            counters.received += 1
            reject("HTTP body from \(peer) is not JSON: \(error)")
            return .badRequest("body is not JSON: \(error)")
        }
        let items: [MetadataValue]
        switch parsed {
        case .array(let a): items = a
        case .object: items = [parsed]
        default:
            counters.received += 1
            reject("HTTP body from \(peer) is neither a list nor a sample")
            return .badRequest("expected a JSON list of samples")
        }
        counters.received += items.count
        var bodySigned = false
        if !secret.isEmpty, let signature {
            let expected = HTTPSignature.header(body, secret: secret)
            guard Self.constantTimeEqual(expected, signature.lowercased()) else {
                counters.rejected += items.count
                once.log(logger, .warning, key: "http-sig/\(peer)", "HTTP body from \(peer): bad X-Nephometer-Signature; \(items.count) sample(s) rejected")
                return .forbidden("bad X-Nephometer-Signature")
            }
            bodySigned = true
        }
        var accepted = 0
        for item in items {
            guard case .object(let o) = item else { reject("HTTP item from \(peer) is not a sample dict"); continue }
            if !secret.isEmpty, !bodySigned {
                guard o[Signature.key] != nil else { reject("HTTP sample from \(peer) has no signature (neither X-Nephometer-Signature nor message_signature)"); continue }
                guard Signature.verify(o, secret: secret) else { reject("HTTP sample from \(peer): bad message_signature"); continue }
            }
            if accept(o, from: peer) { accepted += 1 }
        }
        return .ok(accepted: accepted)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var d: UInt8 = 0
        for i in 0..<x.count { d |= x[i] ^ y[i] }
        return d == 0
    }

    // MARK: Common

    private func reject(_ why: String) {
        counters.rejected += 1
        logger.warning("rejected: \(why)")
    }

    @discardableResult
    private func accept(_ dict: MetadataObject, from peer: String) -> Bool {
        let sample: Sample
        do {
            sample = try Sample(dict: dict)
        } catch {
            reject("sample from \(peer) is malformed: \(error)")
            return false
        }
        guard seen.insert(sample.id).inserted else {
            counters.duplicates += 1
            return false
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
        return true
    }

    /// Writes buffered lines out.
    public func flush() {
        guard !buffer.isEmpty else { return }
        output.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
