import Foundation
import NephometerConfig
import NephometerCore
import NephometerPipeline
import Testing

@Suite struct UnitConversionTests {
    @Test func convertsMatchingUnitAndPassesOthersThrough() throws {
        let chain = try transformers("""
        - name: unit_conversion
          parameters:
            source: {unit: B}
            target: {name: disk.kib, unit: KiB, scale: "volume * 1.0 / 1024.0"}
        """)
        let out = run(chain, [sample("disk", .gauge, unit: "B", volume: .int(2048)), sample("cpu", unit: "ns", volume: .int(7))])
        #expect(out.count == 2)
        #expect(out[0].name == "disk.kib" && out[0].unit == "KiB" && out[0].volume == .double(2.0))
        #expect(out[0].type == .gauge && out[0].resourceID == "r1" && out[0].userID == "u")
        #expect(out[1].name == "cpu" && out[1].volume == .int(7))
    }

    @Test func numericScaleMaxAndTypeAndRegexMapping() throws {
        let chain = try transformers("""
        - name: unit_conversion
          parameters:
            source:
              map_from: {name: "network\\\\.(incoming|outgoing)\\\\.bytes", unit: "B"}
            target:
              map_to: {name: "network.\\\\1.bits", unit: "bit"}
              scale: 8
              max: 1000
              type: gauge
        """)
        let out = run(chain, [sample("network.incoming.bytes", unit: "B", volume: .int(100)),
                              sample("network.outgoing.bytes", unit: "B", volume: .int(200))])
        #expect(out.map(\.name) == ["network.incoming.bits", "network.outgoing.bits"])
        #expect(out.map(\.unit) == ["bit", "bit"])
        #expect(out.map(\.volume) == [.int(800), .int(1000)])
        #expect(out.allSatisfy { $0.type == .gauge })
    }

    @Test func metadataLookupsAndMissingMetadata() throws {
        let chain = try transformers("""
        - name: unit_conversion
          parameters:
            target: {scale: "volume / (resource_metadata.cpu_number or 1)"}
        """)
        let out = run(chain, [sample(volume: .int(100), metadata: ["cpu_number": .int(4)]), sample(volume: .int(100))])
        #expect(out.map(\.volume) == [.double(25), .double(100)])
        // A metadata value that is not a number cannot scale: the sample is dropped, not crashed on.
        let bad = run(chain, [sample(volume: .int(100), metadata: ["cpu_number": .string("four")])])
        #expect(bad.isEmpty)
    }

    @Test func derivedSamplesKeepMonotonicTimeAndGetStableIDs() throws {
        let chain = try transformers("- name: unit_conversion\n  parameters: {target: {unit: x}}")
        let s = sample(volume: .int(1), monotonic: 42)
        let a = run(chain, [s]), b = run(try transformers("- name: unit_conversion\n  parameters: {target: {unit: x}}"), [s])
        #expect(a[0].monotonicTime == 42 && a[0].id != s.id && a[0].id == b[0].id)
    }
}

@Suite struct RateOfChangeTests {
    static let cpuUtil = """
    - name: rate_of_change
      parameters:
        target:
          name: cpu_util
          unit: "%"
          type: gauge
          max: 100
          scale: "100.0 / (10**9 * (resource_metadata.cpu_number or 1))"
    """

    @Test func cpuUtilFromCumulativeNanoseconds() throws {
        let chain = try transformers(Self.cpuUtil)
        #expect(run(chain, [sample(volume: .int(10_000_000_000), at: t0, metadata: ["cpu_number": .int(2)])]).isEmpty)
        // 10 s later, 5e9 ns more on 2 vCPUs: 25 %.
        let out = run(chain, [sample(volume: .int(15_000_000_000), at: t0 + 10, metadata: ["cpu_number": .int(2)])])
        #expect(out.count == 1)
        #expect(out[0].name == "cpu_util" && out[0].unit == "%" && out[0].type == .gauge)
        #expect(out[0].volume == .double(25.0))
    }

    @Test func monotonicTimeIsPreferredOverTimestamps() throws {
        let chain = try transformers(Self.cpuUtil)
        _ = run(chain, [sample(volume: .int(0), at: t0, monotonic: 100)])
        // Timestamps say 1 s, the monotonic clock says 4 s: the monotonic clock wins.
        let out = run(chain, [sample(volume: .int(1_000_000_000), at: t0 + 1, monotonic: 104)])
        #expect(out.first?.volume == .double(25.0))
    }

    @Test func maxCapsTheRate() throws {
        let chain = try transformers(Self.cpuUtil)
        _ = run(chain, [sample(volume: .int(0), at: t0)])
        #expect(run(chain, [sample(volume: .int(5_000_000_000), at: t0 + 1)]).first?.volume.doubleValue == 100)
    }

    @Test func counterResetCountsTheNewValueAsGrowth() throws {
        let chain = try transformers("- name: rate_of_change\n  parameters: {}")
        _ = run(chain, [sample(volume: .int(1000), at: t0)])
        let out = run(chain, [sample(volume: .int(50), at: t0 + 10)])
        #expect(out.first?.volume == .double(5.0))
        // A gauge going down is a negative rate, not a reset.
        _ = run(chain, [sample("g", .gauge, volume: .int(1000), at: t0)])
        #expect(run(chain, [sample("g", .gauge, volume: .int(50), at: t0 + 10)]).first?.volume == .double(-95.0))
    }

    @Test func outOfOrderAndZeroIntervalSamplesAreDropped() throws {
        let chain = try transformers("- name: rate_of_change\n  parameters: {}")
        _ = run(chain, [sample(volume: .int(100), at: t0 + 10)])
        #expect(run(chain, [sample(volume: .int(50), at: t0)]).isEmpty)
        #expect(run(chain, [sample(volume: .int(100), at: t0 + 10)]).isEmpty)
        // The series continues from the last in-order sample.
        #expect(run(chain, [sample(volume: .int(300), at: t0 + 20)]).first?.volume == .double(20.0))
    }

    @Test func gapsGiveTheAverageRateOverTheGap() throws {
        let chain = try transformers("- name: rate_of_change\n  parameters: {}")
        _ = run(chain, [sample(volume: .int(0), at: t0)])
        #expect(run(chain, [sample(volume: .int(3600), at: t0 + 3600)]).first?.volume == .double(1.0))
    }

    @Test func seriesAreKeptPerMeterAndResource() throws {
        let chain = try transformers("- name: rate_of_change\n  parameters: {}")
        _ = run(chain, [sample(volume: .int(0), resource: "a", at: t0), sample(volume: .int(0), resource: "b", at: t0)])
        let out = run(chain, [sample(volume: .int(10), resource: "a", at: t0 + 1), sample(volume: .int(40), resource: "b", at: t0 + 2)])
        #expect(out.map(\.resourceID) == ["a", "b"] && out.map(\.volume) == [.double(10), .double(20)])
    }

    @Test func ceilometerDiskRateMappingRenames() throws {
        let chain = try transformers("""
        - name: rate_of_change
          parameters:
            source:
              map_from: {name: "(disk\\\\.device|disk)\\\\.(read|write)\\\\.(bytes|requests)", unit: "(B|request)"}
            target:
              map_to: {name: "\\\\1.\\\\2.\\\\3.rate", unit: "\\\\1/s"}
              type: gauge
        """)
        _ = run(chain, [sample("disk.device.read.bytes", unit: "B", volume: .int(0), at: t0)])
        let out = run(chain, [sample("disk.device.read.bytes", unit: "B", volume: .int(4096), at: t0 + 2)])
        #expect(out.first?.name == "disk.device.read.bytes.rate" && out.first?.unit == "B/s")
        #expect(out.first?.volume == .double(2048) && out.first?.type == .gauge)
    }

    @Test func idleSeriesAreForgotten() throws {
        let chain = try transformers("- name: rate_of_change\n  parameters: {}")
        for i in 0..<100 { _ = run(chain, [sample(volume: .int(0), resource: "vm\(i)", at: t0)], now: 0) }
        _ = run(chain, [sample(volume: .int(0), resource: "vm0", at: t0 + 60)], now: 60)
        // Series seen once are dropped after 3 default intervals; vm0 has its own 60 s interval.
        #expect(chain[0].prune(now: 200, idleIntervals: 3, defaultInterval: 60) == 99)
        #expect(run(chain, [sample(volume: .int(60), resource: "vm0", at: t0 + 120)], now: 200).count == 1)
        #expect(run(chain, [sample(volume: .int(60), resource: "vm5", at: t0 + 120)], now: 200).isEmpty)
    }
}

@Suite struct DeltaTests {
    @Test func deltasWithGrowthOnly() throws {
        let chain = try transformers("- name: delta\n  parameters: {target: {name: cpu.delta}, growth_only: True}")
        #expect(run(chain, [sample(volume: .int(100), at: t0)]).isEmpty)
        let up = run(chain, [sample(volume: .int(160), at: t0 + 10)])
        #expect(up.first?.name == "cpu.delta" && up.first?.type == .delta && up.first?.volume == .int(60) && up.first?.unit == "ns")
        #expect(run(chain, [sample(volume: .int(10), at: t0 + 20)]).isEmpty)
        #expect(run(chain, [sample(volume: .int(15), at: t0 + 30)]).first?.volume == .int(5))
        #expect(run(chain, [sample(volume: .int(99), at: t0 + 5)]).isEmpty)
    }

    @Test func negativeDeltasPassWithoutGrowthOnly() throws {
        let chain = try transformers("- name: delta\n  parameters: {}")
        _ = run(chain, [sample(volume: .double(1.5), at: t0)])
        #expect(run(chain, [sample(volume: .double(1.0), at: t0 + 1)]).first?.volume == .double(-0.5))
    }
}

@Suite struct AccumulatorTests {
    @Test func releasesOnceSizeIsHeldAndAtShutdown() throws {
        let chain = try transformers("- name: accumulator\n  parameters: {size: 3}")
        #expect(run(chain, [sample(volume: .int(1)), sample(volume: .int(2))]).isEmpty)
        #expect(run(chain, [sample(volume: .int(3))]).map(\.volume) == [.int(1), .int(2), .int(3)])
        #expect(run(chain, [sample(volume: .int(4))]).isEmpty)
        #expect(run(chain, [], final: true).map(\.volume) == [.int(4)])
    }

    @Test func sizeBelowOnePassesThrough() throws {
        let chain = try transformers("- name: accumulator\n  parameters: {size: 0}")
        #expect(run(chain, [sample(volume: .int(1))]).count == 1)
    }
}

@Suite struct AggregatorTests {
    @Test func sumsDeltasAveragesGaugesKeepsLastCumulative() throws {
        let chain = try transformers("- name: aggregator\n  parameters: {size: 6}")
        let batch = [
            sample("d", .delta, volume: .int(1)), sample("d", .delta, volume: .int(2)),
            sample("g", .gauge, volume: .int(10)), sample("g", .gauge, volume: .int(20)),
            sample("c", .cumulative, volume: .int(100)), sample("c", .cumulative, volume: .int(150)),
        ]
        let out = run(chain, batch)
        #expect(out.map(\.name) == ["d", "g", "c"])
        #expect(out.map(\.volume) == [.int(3), .double(15), .int(150)])
    }

    @Test func attributesWithoutPolicyFormTheGroupKey() throws {
        let chain = try transformers("- name: aggregator\n  parameters: {size: 3, user_id: last}")
        let out = run(chain, [sample("d", .delta, volume: .int(1), user: "a", project: "p1"),
                              sample("d", .delta, volume: .int(2), user: "b", project: "p1"),
                              sample("d", .delta, volume: .int(4), user: "c", project: "p2")])
        #expect(out.count == 2)
        #expect(out[0].volume == .int(3) && out[0].userID == "b" && out[0].projectID == "p1")
        #expect(out[1].volume == .int(4) && out[1].projectID == "p2")
    }

    @Test func metadataPoliciesAndTimestampPolicy() throws {
        let first = try transformers("- name: aggregator\n  parameters: {size: 2, resource_metadata: first, timestamp: last}")
        let a = sample("d", .delta, volume: .int(1), at: t0, metadata: ["v": .int(1)])
        let b = sample("d", .delta, volume: .int(1), at: t0 + 5, metadata: ["v": .int(2)])
        let o1 = run(first, [a, b])
        #expect(o1.first?.resourceMetadata == ["v": .int(1)] && o1.first?.timestamp == b.timestamp)
        let drop = try transformers("- name: aggregator\n  parameters: {size: 2, resource_metadata: drop}")
        #expect(run(drop, [a, b]).first?.resourceMetadata.isEmpty == true)
        let last = try transformers("- name: aggregator\n  parameters: {size: 2}")
        let o3 = run(last, [a, b])
        #expect(o3.first?.resourceMetadata == ["v": .int(2)] && o3.first?.timestamp == a.timestamp)
    }

    @Test func flushesOnAgeAndAtShutdown() throws {
        let chain = try transformers("- name: aggregator\n  parameters: {size: 1000, retention_time: 30}")
        #expect(run(chain, [sample("d", .delta, volume: .int(1))], now: 0).isEmpty)
        #expect(run(chain, [sample("d", .delta, volume: .int(1))], now: 10).isEmpty)
        #expect(run(chain, [], now: 31).first?.volume == .int(2))
        #expect(run(chain, [sample("d", .delta, volume: .int(5))], now: 40).isEmpty)
        #expect(run(chain, [], now: 41, final: true).first?.volume == .int(5))
    }

    @Test func scaleAppliesToEverySample() throws {
        let chain = try transformers("- name: aggregator\n  parameters: {size: 2, target: {scale: 'volume * 2', name: d2}}")
        let out = run(chain, [sample("d", .delta, volume: .int(1)), sample("d", .delta, volume: .int(3))])
        #expect(out.first?.name == "d2" && out.first?.volume == .int(8))
    }
}

@Suite struct ArithmeticTests {
    static let percent = """
    - name: arithmetic
      parameters:
        target:
          name: memory_util
          unit: "%"
          type: gauge
          expr: "100 * $(memory.usage) / $(memory)"
    """

    @Test func computesPerResourceOnceAllOperandsArrived() throws {
        let chain = try transformers(Self.percent)
        #expect(run(chain, [sample("memory.usage", .gauge, unit: "MiB", volume: .int(512), resource: "a")]).isEmpty)
        let out = run(chain, [sample("memory", .gauge, unit: "MiB", volume: .int(2048), resource: "a", metadata: ["x": .int(1)]),
                              sample("memory", .gauge, unit: "MiB", volume: .int(1024), resource: "b")])
        #expect(out.count == 1)
        #expect(out[0].name == "memory_util" && out[0].unit == "%" && out[0].type == .gauge)
        #expect(out[0].resourceID == "a" && out[0].volume == .double(25.0))
        #expect(run(chain, [sample("memory.usage", .gauge, volume: .int(256), resource: "b")]).first?.volume == .double(25.0))
    }

    @Test func divisionByZeroAndMissingOperandsDropTheResult() throws {
        let chain = try transformers(Self.percent)
        #expect(run(chain, [sample("memory.usage", .gauge, volume: .int(1)), sample("memory", .gauge, volume: .int(0))]).isEmpty)
        #expect(run(chain, [sample("memory.usage", .gauge, volume: .int(1), resource: "z")], final: true).isEmpty)
    }

    @Test func metadataReferencesAndUnrelatedMetersPass() throws {
        let chain = try transformers("""
        - name: arithmetic
          parameters:
            target: {name: per_cpu, expr: "$(cpu) / $(cpu).resource_metadata.cpu_number"}
        """)
        let out = run(chain, [sample("cpu", volume: .int(100), metadata: ["cpu_number": .int(4)]), sample("vcpus", .gauge, volume: .int(4))])
        #expect(out.map(\.name) == ["vcpus", "per_cpu"])
        #expect(out.last?.volume == .double(25) && out.last?.unit == "ns" && out.last?.type == .cumulative)
    }

    @Test func expressionsWithoutMetersOrWithNamesAreRejected() {
        #expect(throws: ConfigErrors.self) { try transformers("- name: arithmetic\n  parameters: {target: {name: x, expr: '1 + 2'}}") }
        #expect(throws: ConfigErrors.self) { try transformers("- name: arithmetic\n  parameters: {target: {name: x, expr: '$(cpu) + os'}}") }
    }
}
