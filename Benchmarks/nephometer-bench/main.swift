import Foundation
import NephometerCore

// Nephometer's benchmarks. Build with `scripts/release-build.sh --product nephometer-bench`; run
// `.build/release/nephometer-bench <name>`; `make bench` runs them all. Figures are medians of
// several runs; see BENCHMARKS.md.

let benchmarks: [String: (ArraySlice<String>) async throws -> Void] = [
    "pipeline": PipelineBenchmark.run,
    "snmp": SNMPBenchmark.run,
    "udp": UDPBenchmark.run,
    "ring": RingBenchmark.run,
    "http": HTTPBenchmark.run,
    "failover": FailoverBenchmark.run,
    "compute": ComputeBenchmark.run,
    "bus": BusBenchmark.run,
    "gnocchi": GnocchiBenchmark.run,
]

BrokenPipes.ignore()
let args = CommandLine.arguments.dropFirst()
guard let name = args.first, let bench = benchmarks[name] else {
    FileHandle.standardError.write(Data("usage: nephometer-bench <\(benchmarks.keys.sorted().joined(separator: "|"))> [options]\n".utf8))
    exit(2)
}
try await bench(args.dropFirst())
