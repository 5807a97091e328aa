import Foundation
import NephometerCore

/// An oslo.messaging 2.0 notification, as oslo's `Notifier.sample` and the rabbit driver put it on
/// the wire: `{"oslo.version": "2.0", "oslo.message": "<the message as a JSON string>"}`. The inner
/// message has `message_id`, `publisher_id`, `event_type`, `priority` `SAMPLE`, `payload`, `timestamp`
/// (`str(utcnow())`) and `_unique_id`, in that order, written as `json.dumps` does (ASCII-escaped,
/// `", "` and `": "`).
public enum NotificationEnvelope {
    public static func body(publisherID: String, eventType: String, payload: MetadataValue,
                            messageID: String = UUID().uuidString.lowercased(), uniqueID: String = uniqueID(),
                            timestamp: String = utcnow()) -> [UInt8] {
        body(publisherID: publisherID, eventType: eventType, payloadJSON: JSONWriter.bytes(payload),
             messageID: messageID, uniqueID: uniqueID, timestamp: timestamp)
    }

    /// The same with the payload already written as JSON (`json.dumps` form).
    public static func body(publisherID: String, eventType: String, payloadJSON: [UInt8],
                            messageID: String = UUID().uuidString.lowercased(), uniqueID: String = uniqueID(),
                            timestamp: String = utcnow()) -> [UInt8] {
        escapedBody(publisherID: publisherID, eventType: eventType, messageID: messageID, uniqueID: uniqueID, timestamp: timestamp,
                    payloadSize: payloadJSON.count + payloadJSON.count / 4) { JSONStringEscape.append(payloadJSON, to: &$0) }
    }

    static let head = Array(#"{"oslo.version": "2.0", "oslo.message": ""#.utf8)
    static let tail = Array(#""}"#.utf8)

    /// The envelope written in one pass: the inner message's own fields are escaped here,
    /// and `writeEscapedPayload` appends the payload already escaped as the inside of a JSON string
    /// (`MeterMessageJSON` in escaped mode, with each metadata tree's escaped rendering cached). An
    /// escaping pass over the whole message was the largest cost of a publish.
    static func escapedBody(publisherID: String, eventType: String, messageID: String = UUID().uuidString.lowercased(),
                            uniqueID: String = uniqueID(), timestamp: String = utcnow(), payloadSize: Int,
                            _ writeEscapedPayload: (inout [UInt8]) -> Void) -> [UInt8] {
        var plain: [UInt8] = []
        plain.reserveCapacity(320)
        func field(_ key: String, _ value: String, last: Bool = false) {
            JSONWriter.write(.string(key), into: &plain)
            plain.append(contentsOf: ": ".utf8)
            JSONWriter.write(.string(value), into: &plain)
            if !last { plain.append(contentsOf: ", ".utf8) }
        }
        var out = Array(head)
        out.reserveCapacity(payloadSize + 400)
        plain.append(UInt8(ascii: "{"))
        field("message_id", messageID)
        field("publisher_id", publisherID)
        field("event_type", eventType)
        field("priority", "SAMPLE")
        plain.append(contentsOf: #""payload": "#.utf8)
        JSONStringEscape.append(plain, to: &out)
        writeEscapedPayload(&out)
        plain.removeAll(keepingCapacity: true)
        plain.append(contentsOf: ", ".utf8)
        field("timestamp", timestamp)
        field("_unique_id", uniqueID, last: true)
        plain.append(UInt8(ascii: "}"))
        JSONStringEscape.append(plain, to: &out)
        out.append(contentsOf: tail)
        return out
    }

    /// `uuid.uuid4().hex`: 32 lowercase hex digits.
    public static func uniqueID() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// `str(datetime.utcnow())`: `YYYY-MM-DD HH:MM:SS.ffffff`, the fraction omitted when zero.
    public static func utcnow(_ date: Date = Date()) -> String {
        Time.isoTimestamp(date).replacingOccurrences(of: "T", with: " ")
    }

    /// Why Ceilometer's consumer could not rebuild this sample (a poison message it would requeue
    /// forever), or nil when it can. Every key it reads is always present in our meter messages;
    /// what can still be wrong is a value.
    public static func problem(_ s: Sample) -> String? {
        if s.name.isEmpty { return "the sample has no counter_name" }
        if s.resourceID.isEmpty { return "sample \(s.name) has no resource_id" }
        if s.timestamp == nil { return "sample \(s.name) of \(s.resourceID) has no timestamp" }
        return nil
    }
}

/// JSON that is ASCII (json.dumps output) as the inside of a JSON string: only quotes and backslashes
/// need a backslash before them.
enum JSONStringEscape {
    /// Appends runs without a quote or backslash whole, and a backslash before each of those.
    static func append(_ src: [UInt8], to out: inout [UInt8]) {
        src.withUnsafeBufferPointer { b in
            var run = 0
            for i in 0..<b.count where b[i] == 0x22 || b[i] == 0x5C {
                if i > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<i])) }
                out.append(0x5C)
                run = i
            }
            if b.count > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<b.count])) }
        }
    }
}
