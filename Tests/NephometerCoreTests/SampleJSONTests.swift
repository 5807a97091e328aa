@testable import NephometerCore
import Testing

/// `Sample.writeJSON` (fields written directly, shared metadata renderings) equals the reference path,
/// `JSONWriter` over `asDict`; a tree's shared rendering never outlives a change to it.
@Suite struct SampleJSONTests {
    static func reference(_ s: Sample) -> [UInt8] { JSONWriter.bytes(.object(s.asDict)) }
    static func fast(_ s: Sample) -> [UInt8] {
        var out: [UInt8] = []
        s.writeJSON(into: &out)
        return out
    }

    static func randomValue(_ g: inout some RandomNumberGenerator, depth: Int = 0) -> MetadataValue {
        switch Int.random(in: 0..<(depth > 2 ? 6 : 8), using: &g) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2: return .int(Int.random(in: -1_000_000...1_000_000, using: &g))
        case 3: return .double([0.1, -2.5e-9, 1e300, 3.0, .nan, .infinity, 123456.789][Int.random(in: 0..<7, using: &g)])
        case 4: return .string(["", "vm-1", "é\"\\\n", "😀 ünïcode", "tab\there"][Int.random(in: 0..<5, using: &g)])
        case 5: return .number(.int(Int64.random(in: .min ... .max, using: &g)))
        case 6: return .array((0..<Int.random(in: 0..<4, using: &g)).map { _ in randomValue(&g, depth: depth + 1) })
        default:
            return .object(MetadataObject((0..<Int.random(in: 0..<5, using: &g)).map { i in ("k\(i)", randomValue(&g, depth: depth + 1)) }))
        }
    }

    @Test func fastPathEqualsTheReferenceOnRandomSamples() {
        var g = SystemRandomNumberGenerator()
        for n in 0..<2_000 {
            var meta = MetadataObject((0..<Int.random(in: 0..<12, using: &g)).map { i in ("key_\(i)", Self.randomValue(&g)) })
            if n % 2 == 0 { meta = meta.sharingRenderings() }
            let volumes: [Number] = [.int(Int64.random(in: .min ... .max, using: &g)), .double(Double.random(in: -1e9...1e9, using: &g)), .double(.nan)]
            let s = Sample(name: ["cpu", "disk.device.read.bytes", "é"][n % 3], type: SampleType.allCases[n % 3], unit: ["ns", "B", ""][n % 3],
                           volume: volumes[n % 3], userID: n % 4 == 0 ? nil : "u\(n)", userName: n % 5 == 0 ? "name \"q\"" : nil,
                           projectID: n % 3 == 0 ? nil : "p", projectName: nil, resourceID: "r-\(n)",
                           timestamp: n % 7 == 0 ? nil : "2026-12-02T12:00:00.123456", resourceMetadata: meta,
                           source: "openstack", monotonicTime: n % 2 == 0 ? nil : Double(n) / 7)
            #expect(Self.fast(s) == Self.reference(s), "\(String(decoding: Self.reference(s), as: UTF8.self))")
        }
    }

    @Test func aChangedTreeIsRenderedAgain() {
        let shared = MetadataObject([("display_name", .string("vm-1")), ("memory_mb", .int(512))]).sharingRenderings()
        var sample = Sample(name: "cpu", type: .cumulative, unit: "ns", volume: .int(1), resourceID: "r", resourceMetadata: shared)
        #expect(Self.fast(sample) == Self.reference(sample))
        // A copy shares the box; changing the copy drops it there and leaves the original's intact.
        var changed = shared
        changed["display_name"] = .string("renamed")
        #expect(changed.renderings == nil)
        #expect(shared.renderings != nil)
        sample.resourceMetadata = changed
        #expect(String(decoding: Self.fast(sample), as: UTF8.self).contains("\"renamed\""))
        #expect(Self.fast(sample) == Self.reference(sample))
        #expect(String(decoding: shared.json, as: UTF8.self) == #"{"display_name": "vm-1", "memory_mb": 512}"#)
        var updated = shared
        updated.update(with: ["cpu_number": .int(2)])
        #expect(String(decoding: updated.json, as: UTF8.self) == #"{"display_name": "vm-1", "memory_mb": 512, "cpu_number": 2}"#)
        #expect(shared == MetadataObject([("display_name", .string("vm-1")), ("memory_mb", .int(512))]), "renderings are not part of equality")
    }
}
