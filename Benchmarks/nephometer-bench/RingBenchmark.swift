import Foundation
import NephometerCoordination

/// Building a tooz-compatible ring and placing keys on it.
enum RingBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let members = option(args, "members", default: 1000)
        let keys = option(args, "keys", default: 100_000)
        let runs = option(args, "runs", default: 7)
        let ids = (0..<members).map { String(format: "%08x-0000-4000-8000-%012x", $0 &* 2654435761 % 4_294_967_296, $0) }
        let keyStrings = (0..<keys).map { "11111111-0000-0000-0000-\(String(format: "%012d", $0))" }
        var build: [Double] = [], place: [Double] = []
        var checksum = 0
        for _ in 0..<runs {
            var t = DispatchTime.now().uptimeNanoseconds
            let ring = HashRing(members: ids)
            build.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            t = DispatchTime.now().uptimeNanoseconds
            for k in keyStrings where ring.owns(ids[0], key: k) { checksum += 1 }
            place.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        let b = Stats(values: build), p = Stats(values: place)
        print("hash ring: \(members) members x 32 points, \(keys) keys, \(runs) runs (keys owned by the first member: \(checksum / runs))")
        print("  build: median \(format(b.median, 2)) ms (min \(format(b.min, 2)), max \(format(b.max, 2)))")
        print("  place \(keys) keys: median \(format(p.median, 1)) ms (min \(format(p.min, 1)), max \(format(p.max, 1))), \(format(p.median * 1000 / Double(keys), 3)) µs per key")
    }
}
