import Foundation
import Logging
import NephometerConfig
import NephometerCore
import NephometerPipeline
import NephometerPublishers
import Testing
import TestSupport

@Suite struct SinkReloadTests {
    func pipeline(_ yaml: String, reuse: Pipeline? = nil) throws -> Pipeline {
        let d = Diagnostics()
        guard let c = PipelineConfig.validate(try ConfigNode.parse(yaml: yaml, file: "pipeline.yaml"), d) else { throw ConfigErrors(d.errors) }
        return try PipelineBuilder.build(c, context: PublisherContext(telemetrySecret: "s"), reuse: reuse,
                                         logger: Logger(label: "test")).get()
    }

    func lines(_ path: String) -> [MetadataValue] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }

    @Test func transformerStateSurvivesAReloadWhenTheSinkIsUnchanged() async throws {
        let dir = TemporaryDirectory()
        let out = dir.file("rates.log")
        let yaml = """
        sources:
          - {name: cpu_source, meters: [cpu], sinks: [cpu_sink]}
        sinks:
          - name: cpu_sink
            transformers:
              - {name: rate_of_change, parameters: {target: {name: cpu_util, unit: "%"}}}
            publishers: ["file://\(out)"]
        """
        let first = try pipeline(yaml)
        await first.publish([sample(volume: .int(0), at: t0)])
        // The same sink, moved down a few lines by an edit elsewhere in the file: state is kept.
        let second = try pipeline("# an edited comment\n\n" + yaml, reuse: first)
        await first.retire(keeping: second)
        await second.publish([sample(volume: .int(10), at: t0 + 10)])
        await second.shutdown()
        #expect(lines(out).map { $0["volume"] } == [.number(.double(1.0))])
    }

    @Test func aChangedSinkStartsFresh() async throws {
        let dir = TemporaryDirectory()
        let out = dir.file("rates.log")
        func yaml(_ unit: String) -> String {
            """
            sources:
              - {name: cpu_source, meters: [cpu], sinks: [cpu_sink]}
            sinks:
              - name: cpu_sink
                transformers:
                  - {name: rate_of_change, parameters: {target: {name: cpu_util, unit: "\(unit)"}}}
                publishers: ["file://\(out)"]
            """
        }
        let first = try pipeline(yaml("%"))
        await first.publish([sample(volume: .int(0), at: t0)])
        let second = try pipeline(yaml("percent"), reuse: first)
        await first.retire(keeping: second)
        await second.publish([sample(volume: .int(10), at: t0 + 10)])
        await second.shutdown()
        #expect(lines(out).isEmpty)
    }

    @Test func samplesGoToEverySinkWhoseSourceMatches() async throws {
        let dir = TemporaryDirectory()
        let a = dir.file("a.log"), b = dir.file("b.log")
        let p = try pipeline("""
        sources:
          - {name: all, meters: ["*"], sinks: [sa]}
          - {name: cpu_only, meters: ["cpu"], sinks: [sb]}
          - {name: not_cpu, meters: ["!cpu"], sinks: [sb]}
        sinks:
          - {name: sa, publishers: ["file://\(a)"]}
          - {name: sb, publishers: ["file://\(b)"]}
        """)
        await p.publish([sample(volume: .int(1)), sample("vcpus", .gauge, volume: .int(2))])
        await p.shutdown()
        #expect(lines(a).count == 2)
        #expect(lines(b).compactMap { $0["name"]?.stringValue } == ["cpu", "vcpus"])
    }
}
