import NephometerCore

/// Delivers samples somewhere: a file, a UDP collector, an HTTP endpoint.
///
/// `publish` must not wait on the network: network publishers queue (and spool) and deliver in tasks of
/// their own. `close` flushes what is queued, within the publisher's documented bounds.
public protocol Publisher: Sendable {
    /// The publisher URL with any credentials removed, for logs.
    var displayURL: String { get }
    func publish(_ samples: [Sample]) async
    /// Waits until everything handed to `publish` so far is delivered or durably queued.
    func flush() async
    func close() async
    /// The publisher's long-lived work (a delivery's sending, spooling and probing), run by the
    /// agent's pipeline service until `close`. Without it a publisher starts that work itself when
    /// first used (`poll --publish`, tests). The default has none.
    func run() async
    /// Counters of its delivery, for `/metrics`, `/status` and `/healthz` (nil: not a network publisher).
    func deliveryStatistics() async -> DeliveryStatistics?
}

extension Publisher {
    public func run() async {}
    public func deliveryStatistics() async -> DeliveryStatistics? { nil }
}

/// What publishers need from the agent.
public struct PublisherContext: Sendable, Hashable {
    public var telemetrySecret: String
    /// Directory for on-disk spools of network publishers (each gets a subdirectory).
    public var spoolDirectory: String
    /// Bounds and timings of network publishers' deliveries (the spool directory is set per publisher).
    public var delivery: DeliveryOptions
    public var host: String
    /// The notification bus's settings (`notifier://` without a host uses its transport).
    public var messaging: MessagingSettings
    /// Credentials of publishers that call OpenStack APIs (Gnocchi).
    public var serviceCredentials = ServiceCredentials()
    /// Where the operator's configuration lives (ceilometer.conf's or nephometer.yaml's directory):
    /// relative files publishers name are found there first.
    public var configDirectory: String?
    public init(telemetrySecret: String, spoolDirectory: String = "/var/lib/nephometer/spool",
                delivery: DeliveryOptions = DeliveryOptions(), host: String = "localhost",
                messaging: MessagingSettings = MessagingSettings()) {
        self.messaging = messaging
        self.telemetrySecret = telemetrySecret
        self.spoolDirectory = spoolDirectory
        self.delivery = delivery
        self.host = host
    }
}

/// A publisher URL problem, reported by the pipeline with the URL's position in pipeline.yaml.
public struct PublisherURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
