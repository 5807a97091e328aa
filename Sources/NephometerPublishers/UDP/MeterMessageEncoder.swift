import NephometerCore

/// Encodes samples as Ceilometer's UDP publisher does: `msgpack.dumps(meter_message_from_counter(s,
/// secret), use_bin_type=True)`.
///
/// `datagram(_:secret:)` builds the meter message and encodes it (the reference path). An instance is
/// the fast path used by the publisher: `encodeBatch` writes the datagrams of a whole batch back to back
/// into one reusable buffer, leaving each signature's 64 bytes blank and the message's HMAC input in a
/// second buffer, then signs the messages two at a time (`KeyedHMAC`) into the blanks. It encodes a
/// `resource_metadata` tree once for all the samples that share it (all meters of one instance in one
/// cycle share theirs). Both paths produce identical bytes (tested). Not thread-safe: one per publisher.
public final class MeterMessageEncoder {
    public static func datagram(_ s: Sample, secret: String) throws(MsgPackEncoder.Unencodable) -> [UInt8] {
        try MsgPackEncoder.encode(.object(MeterMessage.signed(s, secret: secret)))
    }

    private let hmac: KeyedHMAC?
    /// The HMAC inputs of the batch, back to back; message `i`'s ends at `inputEnds[i]`.
    private var input = ByteWriter(capacity: 64 * 1024)
    private var inputEnds: [Int] = []
    /// Where datagram `i`'s 64 hex digits of signature go in `output`.
    private var signatureOffsets: [Int] = []
    /// The datagrams of the last `encodeBatch`, back to back; datagram `i` ends at `ends[i]`.
    private(set) var output = ByteWriter(capacity: 64 * 1024)
    private(set) var ends: [Int] = []
    private var cache = MetadataRenderCache<(hmac: [UInt8], msgpack: [UInt8])>()

    public init(secret: String) {
        hmac = secret.isEmpty ? nil : KeyedHMAC(key: Array(secret.utf8))
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// One datagram for `s` (through the batch path).
    public func encode(_ s: Sample) throws(MsgPackEncoder.Unencodable) -> [UInt8] {
        var failure: MsgPackEncoder.Unencodable?
        encodeBatch(CollectionOfOne(s)) { _, e in failure = e }
        if let failure { throw failure }
        return Array(output.bytes)
    }

    /// Encodes `samples` into `output`/`ends`, replacing what they held. A sample that cannot be
    /// encoded is reported to `failed` and left out.
    func encodeBatch<C: Collection<Sample>>(_ samples: C, failed: (Sample, MsgPackEncoder.Unencodable) -> Void) {
        output.removeAll()
        ends.removeAll(keepingCapacity: true)
        input.removeAll()
        inputEnds.removeAll(keepingCapacity: true)
        signatureOffsets.removeAll(keepingCapacity: true)
        for s in samples {
            do {
                try append(s)
                ends.append(output.count)
            } catch {
                failed(s, error)
            }
        }
        if let hmac { sign(with: hmac) }
    }

    /// Fills in every signature of the batch, two messages at a time.
    private func sign(with hmac: KeyedHMAC) {
        let n = inputEnds.count
        let inputBase = UnsafeRawPointer(input.base), outputBase = output.base
        func message(_ i: Int) -> UnsafeRawBufferPointer {
            let start = i == 0 ? 0 : inputEnds[i - 1]
            return UnsafeRawBufferPointer(start: inputBase + start, count: inputEnds[i] - start)
        }
        var i = 0
        while i + 1 < n {
            hmac.hex(of: message(i), to: outputBase + signatureOffsets[i],
                     and: message(i + 1), to: outputBase + signatureOffsets[i + 1])
            i += 2
        }
        if i < n { hmac.hex(of: message(i), to: outputBase + signatureOffsets[i]) }
    }

    /// The HMAC input and msgpack encoding of a metadata tree, rendered once per tree.
    private func metadataParts(_ m: MetadataObject) throws(MsgPackEncoder.Unencodable) -> (hmac: [UInt8], msgpack: [UInt8]) {
        try cache.rendering(of: m) { m throws(MsgPackEncoder.Unencodable) in
            var msgpack: [UInt8] = []
            try MsgPackEncoder.encode(.object(m), into: &msgpack)
            return (MetadataRenderCache<Void>.hmacInput(m), msgpack)
        }
    }

    /// The HMAC input of a sample's meter message (Ceilometer's `recursive_keypairs`, keys in sorted
    /// order), with the metadata's part already rendered: shared with the JSON encoder of the bus.
    static func appendHMACInput(_ s: Sample, metadata: [UInt8], into w: inout ByteWriter) {
        w.append("counter_name"); w.appendUTF8(s.name)
        w.append("counter_type"); w.appendUTF8(s.type.rawValue)
        w.append("counter_unit"); w.appendUTF8(s.unit)
        w.append("counter_volume")
        switch s.volume {
        case .int(let v): w.appendDecimal(v)
        case .uint(let v): w.appendDecimal(v)
        case .double(let v): w.appendUTF8(PythonFloat.repr(v))
        case .big(let digits): w.appendUTF8(digits)
        }
        w.append("message_id"); w.appendUTF8(s.id)
        w.append("monotonic_time"); w.appendOptional(s.monotonicTime.map { PythonFloat.repr($0) })
        w.append("project_id"); w.appendOptional(s.projectID)
        w.append("project_name"); w.appendOptional(s.projectName)
        w.append("resource_id"); w.appendUTF8(s.resourceID)
        w.append(metadata)
        w.append("source"); w.appendUTF8(s.source)
        w.append("timestamp"); w.appendOptional(s.timestamp)
        w.append("user_id"); w.appendOptional(s.userID)
        w.append("user_name"); w.appendOptional(s.userName)
    }

    /// Appends one datagram to `output`. Throws before writing anything.
    private func append(_ s: Sample) throws(MsgPackEncoder.Unencodable) {
        if case .big(let digits) = s.volume {
            throw MsgPackEncoder.Unencodable(description: "integer \(digits) does not fit in 64 bits")
        }
        let meta = try metadataParts(s.resourceMetadata)
        var out = output
        defer { output = out }
        if hmac != nil {
            var w = input
            defer {
                input = w
                inputEnds.append(w.count)
            }
            Self.appendHMACInput(s, metadata: meta.hmac, into: &w)
        }
        // Every key is a fixstr (shorter than 32 bytes); the map has 15 entries.
        out.append(0x8f)
        out.append(0xa6); out.append("source"); out.msgPackString(s.source)
        out.append(0xac); out.append("counter_name"); out.msgPackString(s.name)
        out.append(0xac); out.append("counter_type"); out.msgPackString(s.type.rawValue)
        out.append(0xac); out.append("counter_unit"); out.msgPackString(s.unit)
        out.append(0xae); out.append("counter_volume")
        try MsgPackEncoder.write(s.volume, into: &out)  // .big was rejected above, before any write
        out.append(0xa7); out.append("user_id"); out.msgPackOptional(s.userID)
        out.append(0xa9); out.append("user_name"); out.msgPackOptional(s.userName)
        out.append(0xaa); out.append("project_id"); out.msgPackOptional(s.projectID)
        out.append(0xac); out.append("project_name"); out.msgPackOptional(s.projectName)
        out.append(0xab); out.append("resource_id"); out.msgPackString(s.resourceID)
        out.append(0xa9); out.append("timestamp"); out.msgPackOptional(s.timestamp)
        out.append(0xb1); out.append("resource_metadata"); out.append(meta.msgpack)
        out.append(0xaa); out.append("message_id"); out.msgPackString(s.id)
        out.append(0xae); out.append("monotonic_time")
        if let m = s.monotonicTime { out.append(0xcb); out.appendBigEndian(m.bitPattern) } else { out.append(0xc0) }
        out.append(0xb1); out.append("message_signature")
        if hmac != nil {
            out.append(0xd9); out.append(64)
            signatureOffsets.append(out.appendPlaceholder(64))  // signed once the batch is written
        } else {
            out.append(0xa0)
        }
    }
}

extension ByteWriter {
    /// A Python `str()` of an optional string: the string, or `None`.
    @inline(__always) fileprivate mutating func appendOptional(_ s: String?) {
        if let s { appendUTF8(s) } else { append("None") }
    }

    @inline(__always) fileprivate mutating func msgPackString(_ s: String) {
        MsgPackEncoder.writeString(s, into: &self)
    }

    @inline(__always) fileprivate mutating func msgPackOptional(_ s: String?) {
        if let s { msgPackString(s) } else { append(0xc0) }
    }
}
