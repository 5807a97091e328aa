import ArgumentParser
import Foundation
import NephometerAgent
import NephometerConfig
import NephometerCoordination
import NephometerCore
import NephometerPipeline

struct PollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poll",
        abstract: "Run one polling cycle and print the samples (nothing is published unless --publish).",
        discussion: """
            With --format json, stdout carries one JSON object per sample with the keys of
            Ceilometer's sample dict and nothing else; logs go to stderr.

            Exits 0 when every due resource was read; 3 when a discovery or pollster failed or a
            resource could not be read (each is named on stderr, for example a domain whose QEMU does
            not answer within compute.domain_deadline); 1 for an invalid configuration.

            Example:
              nephometer poll --namespaces compute --once --libvirt-uri test:///$PWD/node.xml --format json
            """)

    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var namespaceOption: NamespaceOption
    @Flag(help: "Run one cycle (the only mode; accepted for clarity).")
    var once = false
    @Option(help: "Output format: table or json.")
    var format: String = "table"
    @Flag(help: "Also send the samples through pipeline.yaml to its publishers.")
    var publish = false

    func run() async throws {
        guard let fmt = SampleFormat(rawValue: format) else {
            throw ValidationError("unknown format '\(format)'; expected table or json")
        }
        let namespaces = try namespaceOption.resolved()
        let blueprint = try await configOptions.load()
        let config = blueprint.config
        let logger = Logs.bootstrap(config.agent.logLevel, modules: config.agent.moduleLogLevels)
        let output = SampleOutput(format: fmt)
        let families = await AgentRuntime.families(blueprint, namespaces: namespaces, logger: logger)
        var pipeline: Pipeline?
        if publish {
            switch AgentRuntime.pipeline(config, logger: logger) {
            case .success(let p): pipeline = p
            case .failure(let e):
                Stderr.write("pipeline is invalid:\n\(e)\n")
                throw ExitCode(1)
            }
        }
        let sink = pipeline
        let partitioner: Partitioner?
        do { partitioner = try AgentRuntime.partitioner(config.agent, logger: logger) } catch {
            Stderr.write("configuration is invalid:\n\(error)\n")
            throw ExitCode(1)
        }
        let manager = PollingManager(polling: config.polling, families: namespaces.compactMap { families[$0] },
                                     batchSize: config.agent.batchSize, jitter: 0, partitioner: partitioner,
                                     groupPrefix: AgentRuntime.groupPrefix(namespaces: namespaces, config: config.agent),
                                     consumer: { samples in
                                         await output.write(samples)
                                         await sink?.publish(samples)
                                     }, logger: logger)
        if let partitioner { await partitioner.prepare(groups: manager.partitioningGroups) }
        let problems = await manager.runOnce()
        await partitioner?.stop()
        await pipeline?.shutdown()
        for f in families.values { await f.shutdown() }
        guard problems.isEmpty else {
            for f in problems.failures { Stderr.write("poll: failed: \(f)\n") }
            for (resource, why) in problems.unreadResources.sorted(by: { $0.key < $1.key }) {
                Stderr.write("poll: could not read \(resource): \(why)\n")
            }
            Stderr.write("poll: \(problems.failures.count) failure(s), \(problems.unreadResources.count) resource(s) not read\n")
            throw ExitCode(3)
        }
    }
}
