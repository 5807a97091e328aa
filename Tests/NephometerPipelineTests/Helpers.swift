import Foundation
import NephometerConfig
import NephometerCore
import NephometerPipeline
import Testing

/// Builds a transformer chain from the `transformers:` YAML of a sink, as pipeline.yaml writes it.
func transformers(_ yaml: String, file: String = "pipeline.yaml") throws -> [any Transformer] {
    let indented = yaml.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }.joined(separator: "\n")
    let doc = "sources:\n  - name: s\n    meters: ['*']\n    sinks: [k]\nsinks:\n  - name: k\n    transformers:\n\(indented)\n    publishers: ['gnocchi://']\n"
    let d = Diagnostics()
    guard let config = PipelineConfig.validate(try ConfigNode.parse(yaml: doc, file: file), d) else {
        throw ConfigErrors(d.errors)
    }
    let defs = config.sinks[0].transformers.compactMap { TransformerFactory.validate($0, d) }
    guard d.errors.isEmpty else { throw ConfigErrors(d.errors) }
    return defs.map { $0.instantiate() }
}

/// Runs samples through a chain as a sink does (flushing after the batch), at monotonic time `now`.
func run(_ chain: [any Transformer], _ samples: [Sample], now: Double = 1000, final: Bool = false) -> [Sample] {
    TransformerChain(chain).process(samples, now: now, final: final)
}

func sample(_ name: String = "cpu", _ type: SampleType = .cumulative, unit: String = "ns", volume: Number,
            resource: String = "r1", at seconds: Double? = nil, monotonic: Double? = nil,
            metadata: MetadataObject = [:], user: String? = "u", project: String? = "p") -> Sample {
    Sample(name: name, type: type, unit: unit, volume: volume, userID: user, projectID: project, resourceID: resource,
           timestamp: seconds.map { Time.isoTimestamp(Date(timeIntervalSince1970: $0)) },
           resourceMetadata: metadata, monotonicTime: monotonic)
}

let t0 = 1_700_000_000.0
