import Crypto
import Foundation
import NephometerCore

/// Stable names for groups of static resources: unlike Ceilometer's `hash(frozenset(...))`, which Python
/// salts per process, every agent computes the same value for the same set.
public enum StableHash {
    /// Hex SHA-256 prefix over the sorted, de-duplicated resource strings.
    public static func ofSet(_ items: [String]) -> String {
        let joined = Set(items).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.joined(separator: "\n")
        let digest = SHA256.hash(data: Array(joined.utf8))
        return Hex.string(digest.prefix(8))
    }
}
