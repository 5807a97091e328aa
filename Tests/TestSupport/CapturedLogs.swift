import Foundation
import Logging
import Synchronization

/// A logger whose lines a test can read back (level and message), for "logged once" assertions.
public final class CapturedLogs: Sendable {
    public struct Line: Sendable, CustomStringConvertible {
        public let level: Logger.Level
        public let message: String
        public let metadata: [String: String]
        public var description: String { "\(level): \(message)" }
    }

    private let lines = Mutex<[Line]>([])
    public init() {}

    public func logger(_ label: String = "test", level: Logger.Level = .trace) -> Logger {
        var l = Logger(label: label) { _ in Handler(sink: self) }
        l.logLevel = level
        return l
    }

    public var all: [Line] { lines.withLock { $0 } }

    /// Lines whose message contains `text`.
    public func matching(_ text: String, atLeast level: Logger.Level = .trace) -> [Line] {
        all.filter { $0.level >= level && $0.message.contains(text) }
    }

    func append(_ line: Line) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            var all = metadata
            if let extra { all.merge(extra) { _, b in b } }
            sink.append(Line(level: level, message: "\(message)", metadata: all.mapValues { "\($0)" }))
        }
    }
}
