import Foundation
import NephometerCore

/// How `poll` and `agent --print` show samples on stdout.
enum SampleFormat: String, CaseIterable {
    case table, json
}

actor SampleOutput {
    let format: SampleFormat
    private var headerPrinted = false
    private let out = FileHandle.standardOutput

    init(format: SampleFormat) { self.format = format }

    func write(_ samples: [Sample]) {
        guard !samples.isEmpty else { return }
        var text = ""
        switch format {
        case .json:
            for s in samples { text += JSONWriter.string(s.asDict) + "\n" }
        case .table:
            if !headerPrinted {
                text += Self.row(["TIMESTAMP", "NAME", "TYPE", "UNIT", "VOLUME", "RESOURCE_ID"]) + "\n"
                headerPrinted = true
            }
            for s in samples {
                text += Self.row([s.timestamp ?? "-", s.name, s.type.rawValue, s.unit.isEmpty ? "-" : s.unit,
                                  s.volume.pythonString, s.resourceID]) + "\n"
            }
        }
        out.write(text.data(using: .utf8) ?? Data())
    }

    /// Closes a cycle's table with a summary line; the next cycle starts a new table.
    func cycleEnded(interval: Int, number: Int, samples: Int, seconds: Double) {
        guard format == .table else { return }
        headerPrinted = false
        let line = "-- cycle \(number) (every \(interval) s): \(samples) samples in \(String(format: "%.3f", seconds)) s --\n\n"
        out.write(line.data(using: .utf8) ?? Data())
    }

    static let widths = [26, 28, 10, 8, 22, 0]

    static func row(_ cells: [String]) -> String {
        var line = ""
        for (i, c) in cells.enumerated() {
            let w = widths[i]
            line += w > 0 && c.count < w ? c + String(repeating: " ", count: w - c.count) : c + (w > 0 ? " " : "")
        }
        return line
    }
}
