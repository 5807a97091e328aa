import Foundation
import Logging
import Synchronization

/// One line per event on stderr: `<ISO time> <level> <label>: [<module>] <message> key=value …`, the
/// metadata (`pollster`, `resource`, `host`, `publisher`, `group`, …) as key=value pairs, quoted when
/// they hold spaces. Each module's level may differ (`log_modules`).
struct KeyValueLogHandler: LogHandler {
    let label: String
    let base: Logger.Level
    let modules: [String: Logger.Level]
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level

    init(label: String, level: Logger.Level, modules: [String: Logger.Level]) {
        self.label = label
        base = level
        self.modules = modules
        logLevel = min(level, modules.values.min() ?? level)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static let output = Mutex<Void>(())

    func log(event: LogEvent) {
        guard event.level >= (modules[event.source] ?? base) else { return }
        var line = "\(Self.timestamp()) \(event.level) \(label): [\(event.source)] \(event.message)"
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, b in b } }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) {
            let text = "\(v)"
            line += " \(k)=" + (text.contains(" ") || text.isEmpty ? "\"\(text.replacingOccurrences(of: "\"", with: "\\\""))\"" : text)
        }
        line += "\n"
        Self.output.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(ts.tv_nsec / 1_000_000))
    }
}
