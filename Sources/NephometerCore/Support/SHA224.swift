import CNephometerSHA256

/// SHA-224 (FIPS 180-4), which swift-crypto does not offer. Nova's `hostId` — and so Ceilometer's
/// `resource_metadata.host` — is `sha224(project_id + host).hexdigest()`. Computed by the same C
/// SHA-256 code that signs UDP datagrams (`CNephometerSHA256`).
public enum SHA224 {
    public static func hexDigest(_ text: String) -> String {
        Hex.string(digest(Array(text.utf8)))
    }

    public static func digest(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 28)
        message.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { nephometer_sha224(m.baseAddress, m.count, $0.baseAddress) }
        }
        return out
    }
}
