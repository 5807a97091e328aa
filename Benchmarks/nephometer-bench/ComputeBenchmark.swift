import Foundation
import Logging
import NephometerCompute
import NephometerCore
import TestSupport

/// Compute polling cost per cycle: discovery plus every compute pollster over the running domains of a
/// libvirt test-driver node file (`--node FILE`, as `scripts/bench-compute.sh` writes it for collectd
/// too; otherwise `--domains N` with `--disks`/`--interfaces` each, written to a temporary file).
/// `--cycles` cycles back to back; the first (connection open, node parsing, XML of every domain) is
/// reported apart, the others as medians. CPU is this process's user + system time (getrusage), which
/// includes libvirt's own threads and its in-process test driver.
///
/// `--without PREFIX[,PREFIX…]` leaves out the meters whose names start with a prefix (for a meter set
/// like a peer's, e.g. `--without disk.device.`).
///
/// The test driver's bulk stats carry only domain state, so the inspector reads it domain by domain
/// (info, memory stats, block stats and info, interface stats); a real QEMU driver answers in one call.
enum ComputeBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let cycles = max(2, option(args, "cycles", default: 6))
        let domains = option(args, "domains", default: 1000)
        let disks = option(args, "disks", default: 2)
        let interfaces = option(args, "interfaces", default: 2)
        let label = string(args, "label") ?? "nephometer"
        let without = (string(args, "without") ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let rssBefore = currentRSSMiB()

        var temporary: TemporaryDirectory?
        let uri: String
        if let node = string(args, "node") {
            uri = "test://" + (node.hasPrefix("/") ? node : FileManager.default.currentDirectoryPath + "/" + node)
        } else {
            let dir = TemporaryDirectory("nephometer-bench-compute")
            temporary = dir
            uri = try LibvirtTestNode.uniform(count: domains, disks: disks, interfaces: interfaces).write(to: dir.file("node.xml"))
        }

        let meters = ComputeFamily.meterNames.filter { name in !without.contains { name.hasPrefix($0) } }
        let family = ComputeFamily(options: .init(libvirtURI: uri, host: "bench-host"), enabled: Set(meters),
                                   logger: Logger(label: "bench"))
        struct Cycle { var cpu = 0.0, wall = 0.0, discoverCPU = 0.0, inspectCPU = 0.0, samplesCPU = 0.0, samples = 0, resources = 0 }
        var measured: [Cycle] = []
        for n in 0..<cycles {
            let cycle = PollCycle(number: n + 1)
            var c = Cycle()
            let c0 = processCPUSeconds(), t0 = Time.monotonic()
            let resources = try await family.discoverers[0].discover(parameter: nil, cycle: cycle)
            let c1 = processCPUSeconds()
            // The first pollster triggers the cycle's inspection (libvirt calls); the others only read it.
            for (i, p) in family.pollsters.enumerated() {
                let before = processCPUSeconds()
                c.samples += try await p.poll(resources, cycle: cycle).count
                if i == 0 { c.inspectCPU = processCPUSeconds() - before }
            }
            let c2 = processCPUSeconds()
            c.cpu = c2 - c0
            c.wall = Time.monotonic() - t0
            c.discoverCPU = c1 - c0
            c.samplesCPU = c2 - c1 - c.inspectCPU
            c.resources = resources.count
            measured.append(c)
        }
        let first = measured[0], rest = Array(measured.dropFirst())
        let cpu = Stats(values: rest.map(\.cpu)), wall = Stats(values: rest.map(\.wall))
        let samples = Stats(values: rest.map { Double($0.samples) })
        let rss = peakRSSMiB()
        print("compute \(label): \(uri) instances=\(first.resources) meters=\(family.pollsters.count)\(without.isEmpty ? "" : " (without \(without.joined(separator: ",")))") cycles=1+\(rest.count)")
        print("  cpu_s_per_cycle median \(format(cpu.median, 4)) (min \(format(cpu.min, 4)), max \(format(cpu.max, 4))); first cycle \(format(first.cpu, 4))")
        print("  wall_s_per_cycle median \(format(wall.median, 4)) (min \(format(wall.min, 4)), max \(format(wall.max, 4))); first cycle \(format(first.wall, 4))")
        print("  samples_per_cycle median \(format(samples.median)); first cycle \(first.samples)")
        print("  where the cpu goes (median s): discovery \(format(Stats(values: rest.map(\.discoverCPU)).median, 4)), "
              + "libvirt inspection \(format(Stats(values: rest.map(\.inspectCPU)).median, 4)), "
              + "building samples \(format(Stats(values: rest.map(\.samplesCPU)).median, 4))")
        print("  peak_rss_mib \(format(rss, 1)) (\(format(rssBefore, 1)) before the first cycle, \(format(currentRSSMiB(), 1)) after the last)")
        // One line for scripts/bench-compute.sh.
        print("RESULT nephometer instances=\(first.resources) meters=\(family.pollsters.count) cpu=\(format(cpu.median, 4)) first_cpu=\(format(first.cpu, 4)) "
              + "wall=\(format(wall.median, 4)) first_wall=\(format(first.wall, 4)) samples=\(format(samples.median)) rss_mib=\(format(rss, 1))")
        await family.shutdown()
        withExtendedLifetime(temporary) {}
    }

    /// VmRSS of this process, in MiB.
    static func currentRSSMiB() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }

    static func string(_ args: ArraySlice<String>, _ name: String) -> String? {
        guard let i = args.firstIndex(of: "--\(name)"), i + 1 < args.endIndex else { return nil }
        return args[i + 1]
    }
}
