import Foundation

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
