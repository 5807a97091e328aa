/// What to read from one agent in one cycle.
public struct HostRequest: Sendable {
    /// Identity of the agent's session (the resource string; reused across cycles).
    public let key: String
    public let target: SNMPTarget
    /// Scalars to GET, packed into as few PDUs as the agent accepts.
    public let scalars: [OID]
    /// Tables to walk with GETBULK, each with all its columns in lockstep.
    public let tables: [TableSpec]
    /// max-repetitions per table (learned from the previous cycle's row count).
    public let repetitions: [Int]
    /// Seconds the whole host may take before it is given up for this cycle.
    public let deadline: Double

    public init(key: String, target: SNMPTarget, scalars: [OID], tables: [TableSpec], repetitions: [Int], deadline: Double) {
        self.key = key
        self.target = target
        self.scalars = scalars
        self.tables = tables
        self.repetitions = repetitions
        self.deadline = deadline
    }
}

/// What an agent answered: scalar values by OID and each requested table's rows, in request order.
public struct HostReadings: Sendable {
    public var scalars: [OID: SNMPValue] = [:]
    public var tables: [[TableRow]] = []
    public init() {}
}

/// Why a host produced nothing this cycle. Messages never carry secrets.
public struct SNMPFailure: Error, Sendable, CustomStringConvertible, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// No answer within timeout × (retries + 1), or the host deadline passed.
        case timeout
        /// SNMPv3 report: unknown user, wrong digest, decryption error, unsupported level.
        case authentication
        /// An SNMP error status, a malformed answer, a send failure.
        case error
        /// The resource URL cannot be used.
        case configuration
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// The result of one host's poll, with how long it took (seconds) and when it ended (monotonic seconds).
public struct HostOutcome: Sendable {
    public let result: Result<HostReadings, SNMPFailure>
    public let seconds: Double
    public var finishedAt: Double = 0
}
