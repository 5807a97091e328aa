import Crypto
import NephometerCore

/// Encodes a sample as Ceilometer's UDP publisher does: `msgpack.dumps(meter_message_from_counter(s,
/// secret), use_bin_type=True)`.
///
/// `datagram(_:secret:)` builds the meter message and encodes it (the reference path). An instance is
/// the fast path used by the publisher: it writes the HMAC input and the msgpack bytes directly, and
/// encodes a `resource_metadata` tree once for all the samples that share it (all meters of one
/// instance in one cycle share theirs). Both paths produce identical bytes (tested).
public final class MeterMessageEncoder {
    public static func datagram(_ s: Sample, secret: String) throws(MsgPackEncoder.Unencodable) -> [UInt8] {
        try MsgPackEncoder.encode(.object(MeterMessage.signed(s, secret: secret)))
    }

    let key: SymmetricKey?
    /// An HMAC already keyed: copying it skips re-deriving the inner and outer pads per message.
    private let keyed: HMAC<SHA256>?
    private var input: [UInt8] = []
    private var cache: [(identity: UnsafeRawPointer?, object: MetadataObject, hmac: [UInt8], msgpack: [UInt8])] = []
    private var cacheNext = 0
    static let cacheSize = 64

    public init(secret: String) {
        key = secret.isEmpty ? nil : SymmetricKey(data: Array(secret.utf8))
        keyed = key.map { HMAC<SHA256>(key: $0) }
        input.reserveCapacity(2048)
    }

    /// The HMAC input and msgpack encoding of a metadata tree, from the cache when the same tree (the
    /// same storage) was encoded recently.
    private func metadataParts(_ m: MetadataObject) throws(MsgPackEncoder.Unencodable) -> (hmac: [UInt8], msgpack: [UInt8]) {
        let identity = m.storageIdentity
        if identity != nil, let hit = cache.first(where: { $0.identity == identity }) { return (hit.hmac, hit.msgpack) }
        var wrapper = MetadataObject()
        wrapper["resource_metadata"] = .object(m)
        let hmac = Signature.hmacInput(wrapper)
        var msgpack: [UInt8] = []
        try MsgPackEncoder.encode(.object(m), into: &msgpack)
        let entry = (identity: identity, object: m, hmac: hmac, msgpack: msgpack)
        if cache.count < Self.cacheSize { cache.append(entry) } else { cache[cacheNext] = entry }
        cacheNext = (cacheNext + 1) % Self.cacheSize
        return (hmac, msgpack)
    }

    @inline(__always) private func pair(_ name: StaticString, _ value: String) {
        input.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        input.append(contentsOf: value.utf8)
    }

    @inline(__always) private func optional(_ v: String?) -> String { v ?? "None" }

    /// One datagram for `s`.
    public func encode(_ s: Sample) throws(MsgPackEncoder.Unencodable) -> [UInt8] {
        let meta = try metadataParts(s.resourceMetadata)
        let volume = s.volume.pythonString
        let mono = s.monotonicTime.map { PythonFloat.repr($0) } ?? "None"
        var signature: [UInt8] = []
        if var mac = keyed {
            // Keys in sorted order, as Ceilometer's recursive_keypairs walks them.
            input.removeAll(keepingCapacity: true)
            pair("counter_name", s.name)
            pair("counter_type", s.type.rawValue)
            pair("counter_unit", s.unit)
            pair("counter_volume", volume)
            pair("message_id", s.id)
            pair("monotonic_time", mono)
            pair("project_id", optional(s.projectID))
            pair("project_name", optional(s.projectName))
            pair("resource_id", s.resourceID)
            input.append(contentsOf: meta.hmac)
            pair("source", s.source)
            pair("timestamp", optional(s.timestamp))
            pair("user_id", optional(s.userID))
            pair("user_name", optional(s.userName))
            input.withUnsafeBytes { mac.update(data: $0) }
            signature.reserveCapacity(64)
            for b in mac.finalize() {
                let hi = b >> 4, lo = b & 0xf
                signature.append(hi < 10 ? 0x30 + hi : 0x57 + hi)
                signature.append(lo < 10 ? 0x30 + lo : 0x57 + lo)
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(meta.msgpack.count + 512)
        out.append(0x8f)  // a map of 15 entries
        func key(_ k: StaticString) {
            // Every key is shorter than 32 bytes: a fixstr.
            out.append(0xa0 | UInt8(k.utf8CodeUnitCount))
            out.append(contentsOf: UnsafeRawBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        }
        func str(_ k: StaticString, _ v: String) {
            key(k)
            MsgPackEncoder.writeString(v, into: &out)
        }
        func strOrNil(_ k: StaticString, _ v: String?) {
            key(k)
            if let v { MsgPackEncoder.writeString(v, into: &out) } else { out.append(0xc0) }
        }
        str("source", s.source)
        str("counter_name", s.name)
        str("counter_type", s.type.rawValue)
        str("counter_unit", s.unit)
        key("counter_volume")
        try MsgPackEncoder.encode(s.volume, into: &out)
        strOrNil("user_id", s.userID)
        strOrNil("user_name", s.userName)
        strOrNil("project_id", s.projectID)
        strOrNil("project_name", s.projectName)
        str("resource_id", s.resourceID)
        strOrNil("timestamp", s.timestamp)
        key("resource_metadata")
        out.append(contentsOf: meta.msgpack)
        str("message_id", s.id)
        key("monotonic_time")
        if let m = s.monotonicTime { try MsgPackEncoder.encode(Number.double(m), into: &out) } else { out.append(0xc0) }
        key("message_signature")
        if signature.isEmpty { out.append(0xa0) } else {
            out.append(0xd9)
            out.append(UInt8(signature.count))
            out.append(contentsOf: signature)
        }
        return out
    }
}
