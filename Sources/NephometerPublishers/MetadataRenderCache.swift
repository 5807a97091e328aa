import NephometerCore

/// Renderings of `resource_metadata` trees (their HMAC input and their msgpack or JSON bytes), kept
/// for the last 64 trees by storage identity: every meter of one instance in one cycle shares its tree,
/// so encoders render it once. Holding the tree keeps its storage alive, so an identity is never
/// reused while cached. Used by the UDP and notification-bus encoders; not thread-safe.
struct MetadataRenderCache<Rendering> {
    private var entries: [(identity: UnsafeRawPointer?, object: MetadataObject, rendering: Rendering)] = []
    private var next = 0
    static var size: Int { 64 }

    mutating func rendering<E: Error>(of m: MetadataObject, _ render: (MetadataObject) throws(E) -> Rendering) throws(E) -> Rendering {
        let identity = m.storageIdentity
        if identity != nil, let hit = entries.first(where: { $0.identity == identity }) { return hit.rendering }
        let entry = (identity: identity, object: m, rendering: try render(m))
        if entries.count < Self.size { entries.append(entry) } else { entries[next] = entry }
        next = (next + 1) % Self.size
        return entry.rendering
    }

    /// The part of a meter message's HMAC input that its `resource_metadata` contributes.
    static func hmacInput(_ m: MetadataObject) -> [UInt8] {
        var wrapper = MetadataObject()
        wrapper["resource_metadata"] = .object(m)
        return Signature.hmacInput(wrapper)
    }
}
