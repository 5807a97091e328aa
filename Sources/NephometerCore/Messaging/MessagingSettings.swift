/// How the agent reaches the notification bus: `messaging:` in nephometer.yaml, `--transport-url`, or
/// ceilometer.conf's `[DEFAULT] transport_url`, `[oslo_messaging_notifications]` and
/// `[oslo_messaging_rabbit]`. The declare flags must match the cloud's oslo.messaging settings, or the
/// broker refuses the declarations (406 PRECONDITION_FAILED).
public struct MessagingSettings: Sendable, Hashable {
    /// The transport URL (nil: no bus).
    public var transportURL: String?
    /// Send every polled sample to the bus (`[polling] enable_notifications`, default true).
    public var enableNotifications = true
    /// `[oslo_messaging_notifications] topics`: one publish per topic, routing key `<topic>.sample`.
    public var topics = ["notifications"]
    /// `[DEFAULT] control_exchange` (Ceilometer sets `ceilometer`).
    public var exchange = "ceilometer"
    /// `[oslo_messaging_rabbit] amqp_durable_queues`, `amqp_auto_delete`, `rabbit_quorum_queue`,
    /// `rabbit_ha_queues`, `rabbit_quorum_delivery_limit`.
    public var durableQueues = false
    public var autoDelete = false
    public var quorumQueues = false
    public var haQueues = false
    public var quorumDeliveryLimit = 0
    /// `heartbeat_timeout_threshold` (0 = off).
    public var heartbeat = 60
    /// TLS: `ssl`, `ssl_ca_file`, `ssl_cert_file`, `ssl_key_file`.
    public var ssl = false
    public var sslCAFile: String?
    public var sslCertFile: String?
    public var sslKeyFile: String?
    /// `[polling] batch_size`: samples per notification.
    public var batchSize = 50
    /// Seconds to connect, and to wait for each broker answer and confirm.
    public var timeout = 10.0

    public init() {}

    /// Exchange and queue flags as oslo derives them: durable when durable queues or quorum queues are on.
    public var durable: Bool { durableQueues || quorumQueues }
}
