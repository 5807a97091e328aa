import Crypto

/// Ceilometer's message signature: HMAC-SHA256 over the message's flattened key/value pairs.
///
/// Keys are sorted at every nesting level (code point order), nested keys are joined with `:`, each pair
/// contributes the key's UTF-8 bytes and then Python's `str()` of the value, and `message_signature`
/// itself is skipped. An empty secret gives an empty signature.
public enum Signature {
    public static let key = "message_signature"

    /// The exact bytes fed to HMAC (exposed for tests and diagnostics).
    public static func hmacInput(_ message: MetadataObject) -> [UInt8] {
        hmacInput(message, skipSignature: true)
    }

    static func hmacInput(_ message: MetadataObject, skipSignature: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        appendPairs(message, prefix: [], topLevel: true, into: &out)
        return out
    }

    public static func compute(_ message: MetadataObject, secret: String) -> String {
        guard !secret.isEmpty else { return "" }
        return compute(input: hmacInput(message), key: SymmetricKey(data: Array(secret.utf8)))
    }

    public static func compute(input: [UInt8], key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: input, using: key)
        return hexString(mac)
    }

    /// Ceilometer's `verify_signature`: true when no secret is configured, else a constant-time
    /// comparison of the carried signature with the recomputed one.
    public static func verify(_ message: MetadataObject, secret: String) -> Bool {
        guard !secret.isEmpty else { return true }
        guard case .string(let given)? = message[key], given.utf8.allSatisfy({ $0 < 0x80 }) else { return false }
        let expected = compute(message, secret: secret)
        let a = Array(given.utf8), b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// Python's `str` ordering: by code point, which UTF-8 byte order preserves.
    @inline(__always)
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    private static func appendPairs(_ object: MetadataObject, prefix: [UInt8], topLevel: Bool, into out: inout [UInt8]) {
        let sorted = object.entries.sorted { precedes($0.key, $1.key) }
        for (name, value) in sorted {
            if topLevel && name == key { continue }
            if case .object(let nested) = value {
                appendPairs(nested, prefix: prefix + Array(name.utf8) + [UInt8(ascii: ":")], topLevel: false, into: &out)
                continue
            }
            out.append(contentsOf: prefix)
            out.append(contentsOf: name.utf8)
            PythonRepr.str(value, into: &out)
        }
    }

    static func hexString(_ mac: HashedAuthenticationCode<SHA256>) -> String {
        mac.withUnsafeBytes { Hex.string($0) }
    }
}
