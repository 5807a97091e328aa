import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import TestSupport

/// Samples per second through the HTTP publisher (JSON encoding, spool write, POST, spool removal) to a
/// `nephometer receive` process that verifies the body signature and de-duplicates.
enum HTTPBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let count = option(args, "samples", default: 100_000)
        let batch = option(args, "batch", default: 50)
        let runs = option(args, "runs", default: 3)
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let binary = Fixtures.root.appendingPathComponent(".build/release/nephometer").path
        let dir = TemporaryDirectory("http-bench")
        let port = try FreePort.tcp()
        let receiver = try BackgroundProcess(binary, ["receive", "--http", "127.0.0.1:\(port)", "--secret", "bench-secret",
                                                      "--output", "/dev/null", "--ready-file", dir.file("ready")],
                                             logDirectory: dir.path, name: "receiver")
        _ = eventually(timeout: 20) { FileManager.default.fileExists(atPath: dir.file("ready")) }
        let samples = BenchSamples.compute(count)
        var rates: [Double] = []
        for r in 0..<runs {
            let p = try HTTPPublisher(url: try PublisherURL("http://127.0.0.1:\(port)/v1/samples"),
                                      context: PublisherContext(telemetrySecret: "bench-secret", spoolDirectory: dir.file("spool\(r)")),
                                      logger: Logger(label: "b"))
            let start = DispatchTime.now().uptimeNanoseconds
            var i = 0
            while i < samples.count {
                let end = min(i + batch, samples.count)
                await p.publish(Array(samples[i..<end]))
                i = end
            }
            await p.flush()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(count) / seconds)
            await p.close()
        }
        receiver.signal(SIGTERM)
        receiver.wait(timeout: 10)
        let s = Stats(values: rates)
        print("http publisher -> nephometer receive: \(count) samples in batches of \(batch), \(runs) runs")
        print("  delivered samples/s: median \(format(s.median)) (min \(format(s.min)), max \(format(s.max)))")
        print("  receiver: \(receiver.stderr.split(separator: "\n").last ?? "")")
    }
}
