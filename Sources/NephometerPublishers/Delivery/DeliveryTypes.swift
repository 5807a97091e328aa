import NephometerCore

/// How a network publisher sends one batch; the shared `Delivery` does everything else (order,
/// spool, retries, backoff, bounds, counters).
public protocol DeliveryTransport: Sendable {
    /// One attempt to send one batch. Must return within the transport's own timeout.
    func send(_ batch: DeliveryBatch) async -> DeliveryOutcome
    /// A cheap check, during backoff, whether the far end answers at all (an HTTP response of any
    /// status, a TCP connect and protocol greeting). True makes delivery retry at once.
    func probe() async -> Bool
    /// Releases connections; called once when the delivery closes.
    func shutdown() async
    /// How many batches the transport can have unacknowledged at once (AMQP publisher confirms: many;
    /// an HTTP request: one). The delivery hands it up to this many at a time, oldest first.
    var window: Int { get }
    /// Sends several batches in order and returns each one's outcome, in the same order. It may return
    /// fewer outcomes than batches: those without one were not attempted and stay queued.
    func send(group: [DeliveryBatch]) async -> [DeliveryOutcome]
}

extension DeliveryTransport {
    public var window: Int { 1 }

    /// One batch after another, stopping at the first that is not delivered or refused.
    public func send(group: [DeliveryBatch]) async -> [DeliveryOutcome] {
        var out: [DeliveryOutcome] = []
        for b in group {
            let o = await send(b)
            out.append(o)
            if case .failed = o { break }
        }
        return out
    }
}

/// An encoded batch as the spool keeps it.
public struct DeliveryBatch: Sendable {
    public var body: [UInt8]
    /// Transport-specific routing kept with the batch (an AMQP routing key, an HTTP path); may be empty.
    public var tag: String
    /// Samples in the batch, for counters.
    public var samples: Int

    public init(body: [UInt8], tag: String = "", samples: Int) {
        self.body = body
        self.tag = tag
        self.samples = samples
    }
}

public enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    /// The far end refused this batch for good (an HTTP 4xx other than 429, a malformed message): it is
    /// dropped, logged and counted, never retried.
    case refused(String)
    /// The far end is unreachable, busy or failing: the batch is kept and retried with backoff.
    case failed(String)
}

/// Bounds and timings of a delivery (`publisher.*` in nephometer.yaml). Every bound is documented in
/// `Sources/NephometerPublishers/Delivery/README.md`.
public struct DeliveryOptions: Sendable, Hashable {
    /// Where the spool lives; nil keeps batches in memory only (within `memoryBytes`).
    public var spoolDirectory: String?
    /// Fixed upper bound of the spool in bytes; nil = automatic: room for `spoolHoldSeconds` of this
    /// publisher's measured output, and at least `minimumSpoolBytes`.
    public var spoolMaxBytes: Int?
    public var spoolHoldSeconds: Double = 7_200
    public static let minimumSpoolBytes = 256 << 20
    /// Batches older than this (seconds since they were polled) are dropped and counted.
    public var spoolMaxAge: Double = 86_400
    /// Memory for batches: those not yet spooled, plus copies of spooled ones.
    public var memoryBytes: Int = 64 << 20
    /// Flow control: while the far end answers, `submit` returns only once fewer than this many bytes
    /// of batches wait in memory and not yet on disk, so what a cycle encodes goes out at the far
    /// end's pace instead of piling up in memory (a thousand instances: ~15 MiB of HTTP bodies at
    /// once). A far end too slow to keep up costs at most `spoolAfter`: batches older than that are
    /// spooled and no longer count. Room for the bus's confirm window (32 messages).
    public var aheadBytes: Int = 4 << 20
    /// A batch not delivered within this many seconds is written to the spool; 0 writes every batch
    /// before its first attempt.
    public var spoolAfter: Double = 1
    /// The spool stops writing while its filesystem has less than this fraction free.
    public var filesystemReserve: Double = 0.02
    /// Immediate retries of a failed attempt before backing off.
    public var retries: Int = 0
    public var backoffInitial: Double = 1
    public var backoffMax: Double = 60
    /// How often the far end is probed during a backoff.
    public var probeInterval: Double = 1

    public init(spoolDirectory: String? = nil, spoolMaxBytes: Int? = nil, spoolMaxAge: Double = 86_400,
                memoryBytes: Int = 64 << 20, spoolAfter: Double = 1) {
        self.spoolDirectory = spoolDirectory
        self.spoolMaxBytes = spoolMaxBytes
        self.spoolMaxAge = spoolMaxAge
        self.memoryBytes = memoryBytes
        self.spoolAfter = spoolAfter
    }
}

/// What a delivery did since it started: the counters behind logs, `/metrics` and `/status`.
public struct DeliveryStatistics: Sendable, Hashable {
    public var submittedBatches = 0
    public var submittedSamples = 0
    public var deliveredBatches = 0
    public var deliveredSamples = 0
    /// Refused for good by the far end.
    public var refusedBatches = 0
    public var refusedSamples = 0
    /// Dropped by a bound, by reason (`spool_full`, `max_age`, `memory`, `damaged`, `shutdown`).
    public var droppedSamples: [String: Int] = [:]
    public var droppedBatches = 0
    /// Waiting now: all of them, and those on disk.
    public var queuedBatches = 0
    public var queuedSamples = 0
    public var spooledBatches = 0
    public var spoolBytes = 0
    public var memoryBytes = 0
    /// Batches written to the spool since start.
    public var spoolWrites = 0
    public var failedAttempts = 0
    /// True while the far end fails.
    public var failing = false
    /// Why the spool cannot be written now (full disk, permissions), if so.
    public var spoolProblem: String?
    /// The current spool bound in bytes.
    public var spoolLimit = 0

    public var droppedSamplesTotal: Int { droppedSamples.values.reduce(0, +) }
}
