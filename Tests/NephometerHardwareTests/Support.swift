import Foundation
import Logging
import NephometerCore
import NephometerHardware
import Synchronization
import TestSupport

/// What net-snmp's command-line tools read from the same agent: numeric OID → value text.
struct Walk {
    var values: [String: String] = [:]

    /// `snmpbulkwalk` of each subtree plus `snmpget` of the scalars (MIBS="", numeric OIDs).
    static func read(_ d: SNMPDaemon, subtrees: [String], scalars: [String]) throws -> Walk {
        var w = Walk()
        let auth = ["-v2c", "-c", d.community, "-On", "-Ot"]
        for t in subtrees {
            let r = try Command.run("snmpbulkwalk", auth + [d.address, t], environment: ["MIBS": ""], timeout: 30)
            guard r.status == 0 else { throw ToolFailure(description: "snmpbulkwalk \(t): \(r.stderr)") }
            w.parse(r.stdout)
        }
        let r = try Command.run("snmpget", auth + [d.address] + scalars, environment: ["MIBS": ""], timeout: 30)
        guard r.status == 0 else { throw ToolFailure(description: "snmpget: \(r.stderr)") }
        w.parse(r.stdout)
        return w
    }

    mutating func parse(_ text: String) {
        for line in text.split(separator: "\n") {
            guard let eq = line.range(of: " = ") else { continue }
            var oid = String(line[..<eq.lowerBound])
            if oid.hasPrefix(".") { oid.removeFirst() }
            var value = String(line[eq.upperBound...]).trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("No Such") || value.hasPrefix("No more") { continue }
            if let colon = value.range(of: ": "), !value.hasPrefix("\"") {
                let type = value[..<colon.lowerBound]
                value = String(value[colon.upperBound...])
                if type == "Hex-STRING" { value = value.split(separator: " ").joined().lowercased() }
            }
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            values[oid] = value
        }
    }

    subscript(_ oid: String) -> String? { values[oid] }
    func int(_ oid: String) -> Int64? { values[oid].flatMap { Int64($0) } }

    /// Row indexes under a column (`1.3.6.1.2.1.2.2.1.2` → ["1", "2", …]).
    func indexes(_ column: String) -> [String] {
        values.keys.filter { $0.hasPrefix(column + ".") }.map { String($0.dropFirst(column.count + 1)) }.sorted()
    }
}

struct ToolFailure: Error, CustomStringConvertible { let description: String }

/// Keeps every log line (level and message) for assertions.
final class LogCapture: Sendable {
    let lines = Mutex<[(Logger.Level, String)]>([])
    var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }
    func messages(_ level: Logger.Level) -> [String] { lines.withLock { $0.filter { $0.0 == level }.map(\.1) } }
    var all: [String] { lines.withLock { $0.map(\.1) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.lines.withLock { $0.append((event.level, "\(event.message)")) }
        }
    }
}

/// Runs every pollster of the family over the resources in one cycle, as the polling manager does.
func pollAll(_ family: HardwareFamily, _ urls: [String]) async throws -> [Sample] {
    let cycle = PollCycle()
    let resources = urls.map(PollResource.init(staticResource:))
    var out: [Sample] = []
    for p in family.pollsters { out += try await p.poll(resources, cycle: cycle) }
    return out
}

func allMeters(_ logger: Logger, _ options: HardwareFamily.Options = .init()) -> HardwareFamily {
    HardwareFamily(options: options, enabled: Set(HardwareFamily.meterNames), logger: logger)
}
