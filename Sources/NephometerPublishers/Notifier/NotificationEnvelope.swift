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
        var inner: [UInt8] = []
        inner.reserveCapacity(payloadJSON.count + 320)
        func field(_ key: String, _ value: String, last: Bool = false) {
            JSONWriter.write(.string(key), into: &inner)
            inner.append(contentsOf: ": ".utf8)
            JSONWriter.write(.string(value), into: &inner)
            if !last { inner.append(contentsOf: ", ".utf8) }
        }
        inner.append(UInt8(ascii: "{"))
        field("message_id", messageID)
        field("publisher_id", publisherID)
        field("event_type", eventType)
        field("priority", "SAMPLE")
        inner.append(contentsOf: #""payload": "#.utf8)
        inner.append(contentsOf: payloadJSON)
        inner.append(contentsOf: ", ".utf8)
        field("timestamp", timestamp)
        field("_unique_id", uniqueID, last: true)
        inner.append(UInt8(ascii: "}"))
        // The inner JSON is ASCII (json.dumps escapes the rest), so as a JSON string it only needs
        // its quotes and backslashes escaped.
        var out: [UInt8] = []
        out.reserveCapacity(inner.count + inner.count / 4 + 48)
        out.append(contentsOf: #"{"oslo.version": "2.0", "oslo.message": ""#.utf8)
        for b in inner {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out.append(contentsOf: "\"}".utf8)
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
