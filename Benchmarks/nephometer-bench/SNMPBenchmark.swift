import Foundation
import Logging
import NephometerCore
import NephometerHardware

/// SNMP polling cost: every `hardware.*` meter over the `snmp://` URLs of `--urls FILE` (one a line;
/// `scripts/bench-snmp.sh` sets up simulated hosts), `--cycles` cycles (the first, which opens
/// sessions, is reported apart). Prints CPU seconds per host per cycle, wall time of a cycle and
/// peak RSS (medians over the later cycles).
enum SNMPBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let cycles = option(args, "cycles", default: 5)
        let window = option(args, "window", default: 1000)
        guard let i = args.firstIndex(of: "--urls"), i + 1 < args.endIndex else {
            FileHandle.standardError.write(Data("usage: nephometer-bench snmp --urls FILE [--cycles N] [--window W] [--label TEXT] [--per-meter]\n".utf8))
            exit(2)
        }
        let label = args.firstIndex(of: "--label").flatMap { $0 + 1 < args.endIndex ? args[$0 + 1] : nil } ?? ""
        let urls = try String(contentsOfFile: args[i + 1], encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let family = HardwareFamily(options: .init(maxInFlight: window), enabled: Set(HardwareFamily.meterNames),
                                    logger: Logger(label: "bench"))
        let resources = urls.map(PollResource.init(staticResource:))
        var cpu: [Double] = [], wall: [Double] = [], liveWall: [Double] = [], sampleCounts: [Int] = []
        var first = (cpu: 0.0, wall: 0.0)
        for n in 0..<cycles {
            let cycle = PollCycle(number: n + 1)
            let c0 = processCPUSeconds(), t0 = Time.monotonic()
            var samples = 0
            var perMeter: [(String, Int)] = []
            for p in family.pollsters {
                let got = try await p.poll(resources, cycle: cycle)
                samples += got.count
                perMeter.append((got.first?.name ?? "?", got.count))
            }
            if args.contains("--per-meter") { print("  cycle \(n + 1): " + perMeter.map { "\($0.0)=\($0.1)" }.joined(separator: " ")) }
            let c = processCPUSeconds() - c0, w = Time.monotonic() - t0
            if n == 0 { first = (c, w); continue }
            cpu.append(c)
            wall.append(w)
            // The cycle time of the answering hosts: from the cycle's start to the last of them done.
            if let end = family.hostStatistics.filter({ $0.up == true }).compactMap(\.lastPollEnded).max() { liveWall.append(end - t0) }
            sampleCounts.append(samples)
        }
        let stats = family.hostStatistics
        let up = stats.filter { $0.up == true }.count
        let hosts = Double(urls.count)
        let c = Stats(values: cpu), w = Stats(values: wall)
        print("snmp \(label) hosts=\(urls.count) up=\(up) window=\(window) cycles=\(cycles - 1)+1 samples/cycle=\(sampleCounts.first ?? 0)")
        print("  cpu_ms_per_host_cycle median \(format(c.median / hosts * 1000, 3)) (min \(format(c.min / hosts * 1000, 3)), max \(format(c.max / hosts * 1000, 3)); first cycle \(format(first.cpu / hosts * 1000, 3))")
        print("  cycle_wall_s median \(format(w.median, 3)) (min \(format(w.min, 3)), max \(format(w.max, 3)); first cycle \(format(first.wall, 3)))")
        if !liveWall.isEmpty {
            let l = Stats(values: liveWall)
            print("  answering_hosts_done_s median \(format(l.median, 3)) (min \(format(l.min, 3)), max \(format(l.max, 3)))")
        }
        let live = stats.filter { $0.up == true }.compactMap(\.lastPollSeconds).sorted()
        if !live.isEmpty { print("  live host poll s: median \(format(live[live.count / 2], 4)), max \(format(live.last ?? 0, 4))") }
        let down = stats.filter { $0.up == false }
        if !down.isEmpty {
            let timeouts = stats.reduce(0) { $0 + $1.timeouts }, errors = stats.reduce(0) { $0 + $1.errors }
            print("  down after the last cycle: \(down.count) (timeouts \(timeouts), errors \(errors) over all cycles; e.g. \(down[0].resource): \(down[0].lastError ?? "?"))")
        }
        print("  peak_rss_mib \(format(peakRSSMiB(), 1))")
        await family.shutdown()
    }
}
