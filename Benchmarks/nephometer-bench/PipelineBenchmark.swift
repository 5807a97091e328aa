import Foundation
import Logging
import NephometerConfig
import NephometerCore
import NephometerPipeline
import NephometerPublishers

/// Samples per second through one sink with unit_conversion + rate_of_change (one core: a sink runs
/// its transformers on one task).
enum PipelineBenchmark {
    static let yaml = """
    sources:
      - {name: cpu_source, meters: [cpu], sinks: [cpu_sink]}
    sinks:
      - name: cpu_sink
        transformers:
          - name: unit_conversion
            parameters:
              target: {scale: "volume * 1000000000.0 / (10**9)"}
          - name: rate_of_change
            parameters:
              target:
                name: cpu_util
                unit: "%"
                type: gauge
                max: 100
                scale: "100.0 / (10**9 * (resource_metadata.cpu_number or 1))"
        publishers: ["gnocchi://"]
    """

    static func run(_ args: ArraySlice<String>) async throws {
        let resources = option(args, "resources", default: 1000)
        let steps = option(args, "steps", default: 200)
        let runs = option(args, "runs", default: 7)
        let batch = option(args, "batch", default: 1000)
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let d = Diagnostics()
        guard let config = PipelineConfig.validate(try ConfigNode.parse(yaml: yaml, file: "bench.yaml"), d) else {
            throw ConfigErrors(d.errors)
        }
        // Realistic samples: Ceilometer-sized metadata, one copy per instance (as the compute agent
        // builds it), one timestamp per cycle, monotonic times.
        let metadata: [MetadataObject] = (0..<resources).map { r in [
            "display_name": .string("vm-\(r)"), "name": .string("instance-00000001"), "instance_id": .string("id"),
            "instance_type": .string("m1.small"), "host": .string(String(repeating: "a", count: 56)),
            "instance_host": .string("compute-1"), "flavor": .object(["id": .string("2"), "name": .string("m1.small"), "vcpus": .int(2)]),
            "status": .string("active"), "state": .string("running"), "cpu_number": .int(2),
        ] }
        var samples: [Sample] = []
        samples.reserveCapacity(resources * steps)
        for step in 0..<steps {
            let ts = Time.isoTimestamp(Date(timeIntervalSince1970: 1_700_000_000 + Double(step) * 10))
            for r in 0..<resources {
                samples.append(Sample(name: "cpu", type: .cumulative, unit: "ns",
                                      volume: .int(Int64(step) * 5_000_000_000 + Int64(r)),
                                      userID: "u", projectID: "p", resourceID: "11111111-0000-0000-0000-\(String(format: "%012d", r))",
                                      timestamp: ts, resourceMetadata: metadata[r],
                                      monotonicTime: Double(step) * 10 + Double(r) * 1e-6))
            }
        }
        // The pipeline hands each sink batches it owns (Pipeline.publish builds one array per sink and
        // lets go of it), so the sink transforms them in place: build such batches before the clock starts.
        func ownedBatches() -> [[Sample]] {
            stride(from: 0, to: samples.count, by: batch).reversed().map { start in
                var b: [Sample] = []
                b.reserveCapacity(batch)
                b.append(contentsOf: samples[start..<min(start + batch, samples.count)])
                return b
            }
        }
        var rates: [Double] = []
        var produced = 0
        for _ in 0..<runs {
            let pipeline = try PipelineBuilder.build(config, context: PublisherContext(telemetrySecret: ""),
                                                     logger: Logger(label: "bench")).get()
            let sink = pipeline.sinks[0]
            var pending = ownedBatches()
            let start = DispatchTime.now().uptimeNanoseconds
            produced = 0
            while let b = pending.popLast() { produced += await sink.transformOnly(b).count }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(samples.count) / seconds)
        }
        let s = Stats(values: rates)
        print("pipeline unit_conversion+rate_of_change: \(samples.count) samples (\(resources) resources x \(steps) cycles), batch \(batch), \(runs) runs")
        print("  samples/s: median \(format(s.median)), min \(format(s.min)), max \(format(s.max)); cpu_util produced per run: \(produced)")
        print("  peak RSS: \(format(peakRSSMiB(), 1)) MiB")
    }
}
