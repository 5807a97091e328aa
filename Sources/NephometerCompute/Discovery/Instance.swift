import NephometerCore

/// A Nova instance as the compute agent sees it: what discovery read from the domain's Nova metadata and
/// domain XML, and the `resource_metadata` Ceilometer builds from it.
public struct Instance: Sendable, Hashable {
    public struct Flavor: Sendable, Hashable {
        public var id: String
        public var name: String
        public var vcpus: Int
        public var ram: Int
        public var disk: Int
        public var ephemeral: Int
        public var swap: Int
        /// nil when the metadata has no `extraSpecs` element (older Nova).
        public var extraSpecs: [(String, String?)]?

        public static func == (a: Flavor, b: Flavor) -> Bool {
            a.id == b.id && a.name == b.name && a.vcpus == b.vcpus && a.ram == b.ram && a.disk == b.disk
                && a.ephemeral == b.ephemeral && a.swap == b.swap
                && a.extraSpecs?.map(\.0) == b.extraSpecs?.map(\.0) && a.extraSpecs?.map(\.1) == b.extraSpecs?.map(\.1)
        }
        public func hash(into h: inout Hasher) { h.combine(id); h.combine(name) }

        var metadata: MetadataValue {
            var o: MetadataObject = [
                "id": .string(id), "name": .string(name), "vcpus": .int(vcpus), "ram": .int(ram),
                "disk": .int(disk), "ephemeral": .int(ephemeral), "swap": .int(swap),
            ]
            if let extraSpecs {
                o["extra_specs"] = .object(MetadataObject(extraSpecs.map { ($0.0, MetadataValue.optionalString($0.1)) }))
            }
            return .object(o)
        }
    }

    /// A disk with a source (Ceilometer skips disks without one, such as empty CD-ROM drives).
    public struct Disk: Sendable, Hashable {
        public let device: String
    }

    /// A network interface with a target device.
    public struct Interface: Sendable, Hashable {
        public let name: String
        public let mac: String?
        public let filterRef: String?
        public let parameters: [(String, String?)]

        public static func == (a: Interface, b: Interface) -> Bool {
            a.name == b.name && a.mac == b.mac && a.filterRef == b.filterRef && a.parameters.map(\.0) == b.parameters.map(\.0)
        }
        public func hash(into h: inout Hasher) { h.combine(name) }
    }

    public var id: String
    /// The Nova display name (`display_name`).
    public var displayName: String?
    /// The libvirt domain name (`instance-0000002a`).
    public var domainName: String
    public var flavor: Flavor
    public var imageID: String?
    public var imageMeta: MetadataObject?
    public var osType: String?
    public var architecture: String?
    public var userID: String
    public var projectID: String
    /// The compute host's name (`instance_host`).
    public var host: String
    /// libvirt state 0–7.
    public var state: Int
    public var disks: [Disk]
    public var interfaces: [Interface]

    static let powerState = ["pending", "running", "running", "paused", "shutdown", "shutdown", "crashed", "suspended"]
    static let status = ["building", "active", "active", "paused", "stopped", "stopped", "error", "suspended"]

    public var vmState: String? { Self.powerState.indices.contains(state) ? Self.powerState[state] : nil }
    public var statusText: String? { Self.status.indices.contains(state) ? Self.status[state] : nil }
    public var isShutOff: Bool { state == 5 }

    /// Nova's `hostId`: sha224 of project id + host.
    public var hostID: String { SHA224.hexDigest(projectID + host) }

    /// Ceilometer's `_get_metadata_from_object`, key for key and in its order.
    public func resourceMetadata(hostID: String) -> MetadataObject {
        var m = MetadataObject()
        m["display_name"] = .optionalString(displayName)
        m["name"] = .string(domainName)
        m["instance_id"] = .string(id)
        m["instance_type"] = .string(flavor.name)
        m["host"] = .string(hostID)
        m["instance_host"] = .string(host)
        m["flavor"] = flavor.metadata
        m["status"] = .optionalString(statusText)
        m["state"] = .optionalString(vmState)
        m["task_state"] = .string("")
        if let imageID {
            m["image"] = .object(["id": .string(imageID)])
            m["image_ref"] = .string(imageID)
            m["image_ref_url"] = .null
        } else {
            m["image"] = .null
            m["image_ref"] = .null
            m["image_ref_url"] = .null
        }
        if let imageMeta, !imageMeta.isEmpty { m["image_meta"] = .object(imageMeta) }
        if let architecture { m["architecture"] = .string(architecture) }
        if let osType { m["os_type"] = .string(osType) }
        m["vcpus"] = .int(flavor.vcpus)
        m["memory_mb"] = .int(flavor.ram)
        m["disk_gb"] = .int(flavor.disk)
        m["ephemeral_gb"] = .int(flavor.ephemeral)
        m["root_gb"] = .int(flavor.disk - flavor.ephemeral)
        return m
    }
}
