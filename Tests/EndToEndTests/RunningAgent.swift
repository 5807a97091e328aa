import Foundation
import NephometerCore
import TestSupport

/// `nephometer agent` as a background process with its status server on a free port (`--ready-file`
/// tells the port), read with curl.
final class RunningAgent {
    let process: BackgroundProcess
    let port: Int

    init(_ name: String, dir: TemporaryDirectory, args: [String], environment: [String: String] = [:], directory: String? = nil) throws {
        let ready = dir.file("\(name).ready")
        try? FileManager.default.removeItem(atPath: ready)
        let process = try BackgroundProcess(Command.nephometer, ["agent", "--metrics-listen", "127.0.0.1:0", "--ready-file", ready] + args,
                                            environment: environment, logDirectory: dir.path, name: name, directory: directory)
        guard eventually(timeout: 20, { FileManager.default.fileExists(atPath: ready) || !process.isRunning }),
              let port = (try? JSONParser.parse(String(contentsOfFile: ready, encoding: .utf8)))?["metrics"]?.numberValue.map({ Int($0.doubleValue) }) else {
            throw DaemonFailed(name: "agent \(name)", log: process.stderr)
        }
        self.process = process
        self.port = port
    }

    func get(_ path: String) throws -> (status: Int, body: String) {
        let r = try Command.run("curl", ["-s", "-w", "\n%{http_code}", "--max-time", "10", "http://127.0.0.1:\(port)\(path)"])
        var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        return (status, lines.joined(separator: "\n"))
    }

    /// The value of one series of `/metrics`, written exactly as exported (name and labels).
    func metric(_ series: String) throws -> Double? {
        try get("/metrics").body.split(separator: "\n").first { $0.hasPrefix(series + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// How often `text` occurs in the agent's stderr.
    func logged(_ text: String) -> Int { process.stderr.components(separatedBy: text).count - 1 }

    /// Sends SIGHUP and waits for the reload's outcome; true when it succeeded.
    func reload(timeout: Double = 20) -> Bool? {
        let ok = logged("configuration reloaded"), failed = logged("reload failed")
        process.signal(SIGHUP)
        var result: Bool?
        _ = eventually(timeout: timeout) {
            if logged("configuration reloaded") > ok { result = true } else if logged("reload failed") > failed { result = false }
            return result != nil
        }
        return result
    }
}

/// Samples a file publisher wrote (JSON lines).
func jsonLines(_ path: String) -> [MetadataValue] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
}
