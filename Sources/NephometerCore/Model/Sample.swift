/// How a meter's volume behaves over time.
public enum SampleType: String, Sendable, Hashable, CaseIterable {
    case gauge
    case delta
    case cumulative
}

/// One measurement: the unit of everything that flows from pollsters through the pipeline to publishers.
///
/// Fields and their JSON names are Ceilometer's `Sample`; `asDict` keeps Ceilometer's key order.
public struct Sample: Sendable, Hashable {
    public var name: String
    public var type: SampleType
    public var unit: String
    public var volume: Number
    public var userID: String?
    public var userName: String?
    public var projectID: String?
    public var projectName: String?
    public var resourceID: String
    /// ISO 8601 UTC, as Ceilometer writes it (`2024-05-01T12:00:00.123456`). Set by the polling manager.
    public var timestamp: String?
    public var resourceMetadata: MetadataObject
    public var source: String
    /// The message id; receivers de-duplicate on it.
    public var id: String
    /// Seconds of a monotonic clock at inspection time, when the pollster measured one.
    public var monotonicTime: Double?
    /// Transformers that derive a new sample from this one record it here; the sink turns it into the
    /// new sample's id once, at the end of its chain (`MessageID.derived`). 0: the id is final.
    public var pendingDerivation: UInt64 = 0

    public init(name: String, type: SampleType, unit: String, volume: Number,
                userID: String? = nil, userName: String? = nil,
                projectID: String? = nil, projectName: String? = nil,
                resourceID: String, timestamp: String? = nil,
                resourceMetadata: MetadataObject = MetadataObject(),
                source: String = Sample.defaultSource, id: String = MessageID.make(),
                monotonicTime: Double? = nil) {
        self.name = name
        self.type = type
        self.unit = unit
        self.volume = volume
        self.userID = userID
        self.userName = userName
        self.projectID = projectID
        self.projectName = projectName
        self.resourceID = resourceID
        self.timestamp = timestamp
        self.resourceMetadata = resourceMetadata
        self.source = source
        self.id = id
        self.monotonicTime = monotonicTime
    }

    /// Ceilometer's `[DEFAULT] sample_source`.
    public static let defaultSource = "openstack"

    /// Ceilometer's `Sample.as_dict()`: the body of HTTP and file publishers and of `poll --format json`.
    public var asDict: MetadataObject {
        var o = MetadataObject()
        o["name"] = .string(name)
        o["type"] = .string(type.rawValue)
        o["unit"] = .string(unit)
        o["volume"] = .number(volume)
        o["user_id"] = .optionalString(userID)
        o["user_name"] = .optionalString(userName)
        o["project_id"] = .optionalString(projectID)
        o["project_name"] = .optionalString(projectName)
        o["resource_id"] = .string(resourceID)
        o["timestamp"] = .optionalString(timestamp)
        o["resource_metadata"] = .object(resourceMetadata)
        o["source"] = .string(source)
        o["id"] = .string(id)
        o["monotonic_time"] = monotonicTime.map { .double($0) } ?? .null
        return o
    }

    /// Rebuilds a sample from `as_dict()` keys (HTTP bodies, file lines) or from a meter message
    /// (`counter_*` keys, UDP datagrams). Returns nil with a reason when a required field is missing.
    public init(dict: MetadataObject) throws(SampleDecodingError) {
        let isMessage = dict["counter_name"] != nil
        func str(_ key: String) -> String? { dict[key]?.stringValue }
        func req(_ key: String) throws(SampleDecodingError) -> String {
            guard let v = str(key) else { throw SampleDecodingError(field: key, reason: "missing or not a string") }
            return v
        }
        let name = try req(isMessage ? "counter_name" : "name")
        let typeKey = isMessage ? "counter_type" : "type"
        guard let type = SampleType(rawValue: try req(typeKey)) else {
            throw SampleDecodingError(field: typeKey, reason: "not one of gauge, delta, cumulative")
        }
        let unit = try req(isMessage ? "counter_unit" : "unit")
        let volumeKey = isMessage ? "counter_volume" : "volume"
        guard case .number(let volume)? = dict[volumeKey] else {
            throw SampleDecodingError(field: volumeKey, reason: "missing or not a number")
        }
        let resourceID = try req("resource_id")
        var metadata = MetadataObject()
        if let m = dict["resource_metadata"] {
            switch m {
            case .object(let o): metadata = o
            case .null: break
            default: throw SampleDecodingError(field: "resource_metadata", reason: "not a map")
            }
        }
        var mono: Double?
        if case .number(let n)? = dict["monotonic_time"] { mono = n.doubleValue }
        self.init(name: name, type: type, unit: unit, volume: volume,
                  userID: str("user_id"), userName: str("user_name"),
                  projectID: str("project_id"), projectName: str("project_name"),
                  resourceID: resourceID, timestamp: str("timestamp"), resourceMetadata: metadata,
                  source: str("source") ?? Sample.defaultSource,
                  id: try req(isMessage ? "message_id" : "id"), monotonicTime: mono)
    }
}

public struct SampleDecodingError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { "\(field): \(reason)" }
}
