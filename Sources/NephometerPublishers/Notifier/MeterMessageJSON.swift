import NephometerCore

/// Writes signed meter messages as JSON — `json.dumps(meter_message_from_counter(s, secret))`, the
/// samples of a notification payload — straight from the samples: the reference path builds each as a
/// metadata tree, signs it and writes it (`MeterMessage.signed` + `JSONWriter`); this one renders a
/// `resource_metadata` tree once (JSON and HMAC input) for all samples that share it, as the UDP encoder
/// does, and signs with the allocation-free `KeyedHMAC`. Both paths give identical bytes (tested).
/// Not thread-safe: one per publisher, used under its lock.
final class MeterMessageJSON {
    private let hmac: KeyedHMAC?
    private var input = ByteWriter(capacity: 16 * 1024)
    private var cache = MetadataRenderCache<(hmac: [UInt8], json: [UInt8], escaped: [UInt8])>()
    private var scratch: [UInt8] = []

    init(secret: String) {
        hmac = secret.isEmpty ? nil : KeyedHMAC(key: Array(secret.utf8))
    }

    deinit { input.deallocate() }

    /// `[message, message, ...]` for the samples. `escaped`: as the inside of a JSON string (the
    /// notification envelope's `oslo.message`), every quote and backslash with a backslash before it.
    func array(_ samples: some Collection<Sample>, into out: inout [UInt8], escaped: Bool = false) {
        out.append(UInt8(ascii: "["))
        var first = true
        for s in samples {
            if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
            first = false
            message(s, into: &out, escaped: escaped)
        }
        out.append(UInt8(ascii: "]"))
    }

    private func metadataParts(_ m: MetadataObject) -> (hmac: [UInt8], json: [UInt8], escaped: [UInt8]) {
        cache.rendering(of: m) { m in
            let json = JSONWriter.bytes(.object(m))
            var escaped: [UInt8] = []
            escaped.reserveCapacity(json.count + json.count / 4)
            JSONStringEscape.append(json, to: &escaped)
            return (MetadataRenderCache<Void>.hmacInput(m), json, escaped)
        }
    }

    func message(_ s: Sample, into out: inout [UInt8], escaped: Bool = false) {
        let meta = metadataParts(s.resourceMetadata)
        func quote() {
            if escaped { out.append(UInt8(ascii: "\\")) }
            out.append(UInt8(ascii: "\""))
        }
        func key(_ k: StaticString) {
            quote()
            k.withUTF8Buffer { out.append(contentsOf: $0) }
            quote()
            out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
        }
        func string(_ v: String) {
            guard escaped else { return JSONWriter.write(.string(v), into: &out) }
            scratch.removeAll(keepingCapacity: true)
            JSONWriter.write(.string(v), into: &scratch)
            JSONStringEscape.append(scratch, to: &out)
        }
        func optional(_ v: String?) { if let v { string(v) } else { out.append(contentsOf: "null".utf8) } }
        func comma() { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
        out.append(UInt8(ascii: "{"))
        key("source"); string(s.source); comma()
        key("counter_name"); string(s.name); comma()
        key("counter_type"); string(s.type.rawValue); comma()
        key("counter_unit"); string(s.unit); comma()
        key("counter_volume"); JSONWriter.write(.number(s.volume), into: &out); comma()
        key("user_id"); optional(s.userID); comma()
        key("user_name"); optional(s.userName); comma()
        key("project_id"); optional(s.projectID); comma()
        key("project_name"); optional(s.projectName); comma()
        key("resource_id"); string(s.resourceID); comma()
        key("timestamp"); optional(s.timestamp); comma()
        key("resource_metadata"); out.append(contentsOf: escaped ? meta.escaped : meta.json); comma()
        key("message_id"); string(s.id); comma()
        key("monotonic_time")
        if let m = s.monotonicTime { JSONWriter.write(.double(m), into: &out) } else { out.append(contentsOf: "null".utf8) }
        comma()
        key("message_signature")
        quote()
        if let hmac {
            input.removeAll()
            MeterMessageEncoder.appendHMACInput(s, metadata: meta.hmac, into: &input)
            var hex = [UInt8](repeating: 0, count: 64)
            hex.withUnsafeMutableBufferPointer { h in
                if let base = h.baseAddress { hmac.hex(of: input.bytes, to: base) }
            }
            out.append(contentsOf: hex)
        }
        quote()
        out.append(UInt8(ascii: "}"))
    }
}
