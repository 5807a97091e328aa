import NephometerCore

/// The AMQP 0-9-1 frames a publisher sends and the ones it must understand (RabbitMQ's dialect). All
/// integers are big-endian; a frame is type, channel, size, payload and the end octet 0xCE.
enum AMQPFrame {
    static let protocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]
    static let end: UInt8 = 0xCE
    static let method: UInt8 = 1, header: UInt8 = 2, body: UInt8 = 3, heartbeat: UInt8 = 8
    /// Largest frame a server may send us before we call the connection broken (frame_max is
    /// negotiated down to at most this).
    static let maxFrame = 1 << 20

    /// A whole frame around a payload.
    static func frame(type: UInt8, channel: UInt16, payload: [UInt8]) -> [UInt8] {
        var w = AMQPWriter()
        w.octet(type); w.short(channel); w.long(UInt32(payload.count))
        w.bytes.append(contentsOf: payload)
        w.octet(end)
        return w.bytes
    }

    static let heartbeatFrame: [UInt8] = [8, 0, 0, 0, 0, 0, 0, end]
}

/// A field-table value (the types RabbitMQ and oslo use).
enum AMQPField: Equatable, Sendable {
    case bool(Bool)
    case int(Int32)
    case long(Int64)
    case string(String)
    case table([(String, AMQPField)])

    static func == (a: AMQPField, b: AMQPField) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.long(let x), .long(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.table(let x), .table(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

/// Writes AMQP's primitive types.
struct AMQPWriter {
    var bytes: [UInt8] = []

    mutating func octet(_ v: UInt8) { bytes.append(v) }
    mutating func short(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    mutating func long(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(s)) & 0xFF)) } }
    mutating func longlong(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(s)) & 0xFF)) } }
    /// Short strings are at most 255 bytes; longer ones are cut (names we send are far shorter, and
    /// `NotifierOptions` rejects longer topics).
    mutating func shortstr(_ s: String) {
        let u = Array(s.utf8.prefix(255))
        octet(UInt8(u.count)); bytes.append(contentsOf: u)
    }
    mutating func longstr(_ u: [UInt8]) { long(UInt32(u.count)); bytes.append(contentsOf: u) }
    mutating func longstr(_ s: String) { longstr(Array(s.utf8)) }
    /// Bits packed LSB-first into one octet.
    mutating func bits(_ flags: Bool...) {
        var v: UInt8 = 0
        for (i, f) in flags.enumerated() where f { v |= 1 << UInt8(i) }
        octet(v)
    }
    mutating func table(_ entries: [(String, AMQPField)]) {
        var inner = AMQPWriter()
        for (k, v) in entries {
            inner.shortstr(k)
            inner.field(v)
        }
        longstr(inner.bytes)
    }
    mutating func field(_ v: AMQPField) {
        switch v {
        case .bool(let b): octet(UInt8(ascii: "t")); octet(b ? 1 : 0)
        case .int(let i): octet(UInt8(ascii: "I")); long(UInt32(bitPattern: i))
        case .long(let l): octet(UInt8(ascii: "l")); longlong(UInt64(bitPattern: l))
        case .string(let s): octet(UInt8(ascii: "S")); longstr(s)
        case .table(let t): octet(UInt8(ascii: "F")); table(t)
        }
    }
    mutating func method(_ classID: UInt16, _ methodID: UInt16) { short(classID); short(methodID) }
}

/// Reads AMQP's primitive types; every read is bounds-checked and throws on a short or odd payload.
struct AMQPReader {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    mutating func need(_ n: Int) throws(Malformed) {
        guard n >= 0, at + n <= bytes.count else { throw Malformed(description: "a frame ends early at byte \(at) (needs \(n) more)") }
    }
    mutating func octet() throws(Malformed) -> UInt8 { try need(1); defer { at += 1 }; return bytes[at] }
    mutating func short() throws(Malformed) -> UInt16 {
        try need(2); defer { at += 2 }
        return UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }
    mutating func long() throws(Malformed) -> UInt32 {
        try need(4); defer { at += 4 }
        return (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[at + $1]) }
    }
    mutating func longlong() throws(Malformed) -> UInt64 {
        try need(8); defer { at += 8 }
        return (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[at + $1]) }
    }
    mutating func shortstr() throws(Malformed) -> String {
        let n = Int(try octet())
        try need(n); defer { at += n }
        return String(decoding: bytes[at..<at + n], as: UTF8.self)
    }
    mutating func longstr() throws(Malformed) -> [UInt8] {
        let n = Int(try long())
        try need(n); defer { at += n }
        return Array(bytes[at..<at + n])
    }
    /// Skips a field table (its length prefix says how far).
    mutating func skipTable() throws(Malformed) { _ = try longstr() }
}

/// The server methods a publisher acts on.
enum AMQPServerMethod: Equatable {
    case start(mechanisms: String)
    case tune(channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16)
    case openOK
    case close(code: UInt16, text: String, classID: UInt16, methodID: UInt16)
    case closeOK
    case blocked(String)
    case unblocked
    case channelOpenOK
    case channelClose(code: UInt16, text: String, classID: UInt16, methodID: UInt16)
    case channelCloseOK
    case exchangeDeclareOK
    case queueDeclareOK
    case queueBindOK
    case confirmSelectOK
    case ack(tag: UInt64, multiple: Bool)
    case nack(tag: UInt64, multiple: Bool)
    /// A returned message (only with `mandatory`, which we never set): its header and body follow.
    case returned
    case other(classID: UInt16, methodID: UInt16)

    var id: AMQPMethodID {
        switch self {
        case .start: return .init(10, 10)
        case .tune: return .init(10, 30)
        case .openOK: return .init(10, 41)
        case .close: return .init(10, 50)
        case .closeOK: return .init(10, 51)
        case .blocked: return .init(10, 60)
        case .unblocked: return .init(10, 61)
        case .channelOpenOK: return .init(20, 11)
        case .channelClose: return .init(20, 40)
        case .channelCloseOK: return .init(20, 41)
        case .exchangeDeclareOK: return .init(40, 11)
        case .queueDeclareOK: return .init(50, 11)
        case .queueBindOK: return .init(50, 21)
        case .confirmSelectOK: return .init(85, 11)
        case .ack: return .init(60, 80)
        case .nack: return .init(60, 120)
        case .returned: return .init(60, 50)
        case .other(let c, let m): return .init(c, m)
        }
    }

    static func decode(_ payload: [UInt8]) throws(AMQPReader.Malformed) -> AMQPServerMethod {
        var r = AMQPReader(payload)
        let c = try r.short(), m = try r.short()
        switch (c, m) {
        case (10, 10):
            _ = try r.octet(); _ = try r.octet(); try r.skipTable()
            return .start(mechanisms: String(decoding: try r.longstr(), as: UTF8.self))
        case (10, 30): return .tune(channelMax: try r.short(), frameMax: try r.long(), heartbeat: try r.short())
        case (10, 41): return .openOK
        case (10, 50): return .close(code: try r.short(), text: try r.shortstr(), classID: try r.short(), methodID: try r.short())
        case (10, 51): return .closeOK
        case (10, 60): return .blocked(try r.shortstr())
        case (10, 61): return .unblocked
        case (20, 11): return .channelOpenOK
        case (20, 40): return .channelClose(code: try r.short(), text: try r.shortstr(), classID: try r.short(), methodID: try r.short())
        case (20, 41): return .channelCloseOK
        case (40, 11): return .exchangeDeclareOK
        case (50, 11): return .queueDeclareOK
        case (50, 21): return .queueBindOK
        case (85, 11): return .confirmSelectOK
        case (60, 80): return .ack(tag: try r.longlong(), multiple: try r.octet() & 1 == 1)
        case (60, 120): return .nack(tag: try r.longlong(), multiple: try r.octet() & 1 == 1)
        case (60, 50): return .returned
        default: return .other(classID: c, methodID: m)
        }
    }
}

struct AMQPMethodID: Hashable, CustomStringConvertible {
    let classID: UInt16, methodID: UInt16
    init(_ c: UInt16, _ m: UInt16) { classID = c; methodID = m }
    var description: String { "\(classID).\(methodID)" }
}

/// The client methods a publisher sends, as frame payloads.
enum AMQPClientMethod {
    static func startOK(user: String, password: String, connectionName: String) -> [UInt8] {
        var w = AMQPWriter()
        w.method(10, 11)
        w.table([
            ("product", .string("nephometer")),
            ("version", .string(Version.string)),
            ("platform", .string("Swift")),
            ("capabilities", .table([("authentication_failure_close", .bool(true)), ("connection.blocked", .bool(true)),
                                     ("consumer_cancel_notify", .bool(true)), ("publisher_confirms", .bool(true))])),
            ("connection_name", .string(connectionName)),
        ])
        w.shortstr("PLAIN")
        w.longstr([0] + Array(user.utf8) + [0] + Array(password.utf8))
        w.shortstr("en_US")
        return w.bytes
    }

    static func tuneOK(channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16) -> [UInt8] {
        var w = AMQPWriter()
        w.method(10, 31); w.short(channelMax); w.long(frameMax); w.short(heartbeat)
        return w.bytes
    }

    static func open(vhost: String) -> [UInt8] {
        var w = AMQPWriter()
        w.method(10, 40); w.shortstr(vhost); w.shortstr(""); w.octet(0)
        return w.bytes
    }

    static func close(code: UInt16 = 200, text: String = "bye") -> [UInt8] {
        var w = AMQPWriter()
        w.method(10, 50); w.short(code); w.shortstr(text); w.short(0); w.short(0)
        return w.bytes
    }

    static let closeOK: [UInt8] = [0, 10, 0, 51]
    static let channelOpen: [UInt8] = [0, 20, 0, 10, 0]
    static let channelCloseOK: [UInt8] = [0, 20, 0, 41]
    static let confirmSelect: [UInt8] = [0, 85, 0, 10, 0]

    static func exchangeDeclare(_ name: String, type: String = "topic", passive: Bool = false, durable: Bool, autoDelete: Bool) -> [UInt8] {
        var w = AMQPWriter()
        w.method(40, 10); w.short(0); w.shortstr(name); w.shortstr(type)
        w.bits(passive, durable, autoDelete, false, false)
        w.table([])
        return w.bytes
    }

    static func queueDeclare(_ name: String, passive: Bool = false, durable: Bool, autoDelete: Bool, arguments: [(String, AMQPField)]) -> [UInt8] {
        var w = AMQPWriter()
        w.method(50, 10); w.short(0); w.shortstr(name)
        w.bits(passive, durable, false, autoDelete, false)
        w.table(arguments)
        return w.bytes
    }

    static func queueBind(queue: String, exchange: String, routingKey: String) -> [UInt8] {
        var w = AMQPWriter()
        w.method(50, 20); w.short(0); w.shortstr(queue); w.shortstr(exchange); w.shortstr(routingKey); w.octet(0)
        w.table([])
        return w.bytes
    }

    static func publish(exchange: String, routingKey: String) -> [UInt8] {
        var w = AMQPWriter()
        w.method(60, 40); w.short(0); w.shortstr(exchange); w.shortstr(routingKey); w.octet(0)
        return w.bytes
    }

    /// The content header kombu sends: content_type application/json, content_encoding utf-8, empty
    /// headers, delivery_mode 2 (persistent), priority 0 (flags 0xF800). A message without
    /// content_type is rejected and lost by Ceilometer's consumer.
    static func contentHeader(bodySize: Int) -> [UInt8] {
        var w = AMQPWriter()
        w.short(60); w.short(0); w.longlong(UInt64(bodySize)); w.short(0xF800)
        w.shortstr("application/json"); w.shortstr("utf-8"); w.table([]); w.octet(2); w.octet(0)
        return w.bytes
    }
}
