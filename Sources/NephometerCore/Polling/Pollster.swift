/// Something a pollster measures: a libvirt domain, an SNMP host, a static resource string.
///
/// `key` is the resource's identity: the polling manager de-duplicates on it within a cycle and the
/// hash ring places it by it. `value` is whatever the discoverer attached (a domain description, a
/// parsed URL) for the pollster of the same family to use.
public struct PollResource: Sendable, Hashable, CustomStringConvertible {
    public let key: String
    public let value: any Sendable

    public init(key: String, value: any Sendable) {
        self.key = key
        self.value = value
    }
    /// A static resource from polling.yaml: the string is both key and value.
    public init(staticResource: String) {
        self.key = staticResource
        self.value = staticResource
    }

    public static func == (a: PollResource, b: PollResource) -> Bool { a.key == b.key }
    public func hash(into h: inout Hasher) { h.combine(key) }
    public var description: String { key }
}

/// Produces the samples of one meter (its `name`, which polling.yaml's `meters` patterns match).
///
/// Pollsters of one family share work through the cycle's `cache`: the first one to run fetches what
/// the family needs for all its resources, the others read the result.
public protocol Pollster: Sendable {
    var name: String { get }
    /// Discovery used when the source names neither resources nor discovery (e.g. `local_instances`).
    var defaultDiscovery: String? { get }
    func poll(_ resources: [PollResource], cycle: PollCycle) async throws -> [Sample]
}

/// Finds resources to poll (Ceilometer's discovery plugins: `local_instances`, …).
public protocol Discoverer: Sendable {
    /// The name used in polling.yaml `discovery` entries and pollsters' default discovery.
    var name: String { get }
    /// The partitioning group suffix (`conf.host` for compute, `global` otherwise).
    var groupID: String? { get }
    func discover(parameter: String?, cycle: PollCycle) async throws -> [PollResource]
}

/// A namespace's pollsters and discoverers (`compute`, `central`).
public protocol PollsterFamily: Sendable {
    var namespace: String { get }
    var pollsters: [any Pollster] { get }
    var discoverers: [any Discoverer] { get }
    /// Releases connections; called once at agent shutdown.
    func shutdown() async
}

/// An error a pollster raises when a resource can never be polled by it (Ceilometer's
/// `PollsterPermanentError`): the resources are not offered to that pollster again.
public struct PollsterPermanentError: Error, Sendable {
    public let resources: [PollResource]
    public let reason: String
    public init(resources: [PollResource], reason: String) {
        self.resources = resources
        self.reason = reason
    }
}
