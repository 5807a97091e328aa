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
    /// Pollsters of the meters enabled now.
    var pollsters: [any Pollster] { get }
    var discoverers: [any Discoverer] { get }
    /// Polls these meters from now on, keeping the family's state (connections, sessions, counters):
    /// what a reload that left the family's options unchanged does.
    func reconfigure(enabled: Set<String>) async
    /// The family's long-lived work (an engine thread), run by the agent as a service; returns when it
    /// is shut down. The default has none.
    func run() async
    /// Releases connections; called once, when the family is no longer used.
    func shutdown() async
    /// Figures for `/metrics` and `/status`.
    func status() async -> FamilyStatus
}

extension PollsterFamily {
    public func run() async {}
    public func status() async -> FamilyStatus { FamilyStatus() }
}

/// What a family tells `/metrics` and `/status`: values with bounded label sets, and a table.
public struct FamilyStatus: Sendable {
    public struct Value: Sendable {
        public var name: String
        public var help: String
        public var labels: [(String, String)]
        public var value: Double
        public var isCounter: Bool
        public init(_ name: String, _ value: Double, help: String, labels: [(String, String)] = [], counter: Bool = false) {
            self.name = name
            self.value = value
            self.help = help
            self.labels = labels
            isCounter = counter
        }
    }
    public var values: [Value] = []
    /// A table for the status page: a title, column names, rows.
    public var title = ""
    public var columns: [String] = []
    public var rows: [[String]] = []
    public var notes: [String] = []
    public init() {}
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
