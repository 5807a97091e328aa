/// Ceilometer's signed meter message (`meter_message_from_counter`): what the UDP publisher sends and
/// what notification payloads carry. Keys are in Ceilometer's order; `message_signature` comes last.
public enum MeterMessage {
    /// Builds the unsigned message body in Ceilometer's key order.
    public static func unsigned(_ s: Sample, publisherID: String? = nil) -> MetadataObject {
        var m = MetadataObject()
        m["source"] = .string(s.source)
        m["counter_name"] = .string(s.name)
        m["counter_type"] = .string(s.type.rawValue)
        m["counter_unit"] = .string(s.unit)
        m["counter_volume"] = .number(s.volume)
        m["user_id"] = .optionalString(s.userID)
        m["user_name"] = .optionalString(s.userName)
        m["project_id"] = .optionalString(s.projectID)
        m["project_name"] = .optionalString(s.projectName)
        m["resource_id"] = .string(s.resourceID)
        m["timestamp"] = .optionalString(s.timestamp)
        m["resource_metadata"] = .object(s.resourceMetadata)
        m["message_id"] = .string(s.id)
        m["monotonic_time"] = s.monotonicTime.map { .double($0) } ?? .null
        if let publisherID { m["publisher_id"] = .string(publisherID) }
        return m
    }

    /// The signed message, as `meter_message_from_counter(sample, secret)` returns it.
    public static func signed(_ s: Sample, secret: String, publisherID: String? = nil) -> MetadataObject {
        var m = unsigned(s, publisherID: publisherID)
        m[Signature.key] = .string(Signature.compute(m, secret: secret))
        return m
    }
}
