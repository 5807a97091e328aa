import Foundation
import NephometerCore
import TestSupport

/// Median and spread of repeated measurements.
struct Stats {
    let values: [Double]
    var median: Double {
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var min: Double { values.min() ?? 0 }
    var max: Double { values.max() ?? 0 }
}

/// CPU seconds (user + system) this process has used.
func processCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

/// Peak resident set size of this process, in MiB.
func peakRSSMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

func option(_ args: ArraySlice<String>, _ name: String, default value: Int) -> Int {
    guard let i = args.firstIndex(of: "--\(name)"), i + 1 < args.endIndex, let v = Int(args[i + 1]) else { return value }
    return v
}

func option(_ args: ArraySlice<String>, _ name: String, default value: String) -> String {
    guard let i = args.firstIndex(of: "--\(name)"), i + 1 < args.endIndex else { return value }
    return args[i + 1]
}

func format(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }

/// A bad benchmark option.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A Ceilometer peer script in `Benchmarks/peers/`, run with the ceilometer venv of an OpenStack
/// environment; it prints one JSON line with `seconds` and `cpu_seconds`.
enum CeilometerPeer {
    static func run(_ script: String, _ arguments: [String], env: OpenStackEnv) throws -> (seconds: Double, cpuSeconds: Double) {
        let python = (env.env["venvs"]?["ceilometer"]?.stringValue).map { "\($0)/bin/python" }
            ?? "\(FileManager.default.temporaryDirectory.path)/nephometer-venv-ceilometer/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw BenchError("the Ceilometer peer needs the ceilometer venv (\(python) is missing): create it with `python3 scripts/openstack-env/openstack-env.py start --dir DIR --components rabbitmq,notification`, then stop that environment")
        }
        let r = try Command.run(python, [Fixtures.root.appendingPathComponent("Benchmarks/peers/\(script)").path] + arguments, timeout: 1800)
        guard let line = r.stdout.split(separator: "\n").last, let v = try? JSONParser.parse(String(line)),
              let s = v["seconds"]?.numberValue?.doubleValue, let c = v["cpu_seconds"]?.numberValue?.doubleValue else {
            throw BenchError("the Ceilometer peer \(script) failed: \(r.stderr.suffix(2000))")
        }
        return (s, c)
    }
}
