import Foundation
import Logging
import NephometerConfig
import NephometerCoordination
import NephometerCore
import NephometerPipeline

/// Prints what the agent polls (`agent --print`): samples, and a line when each cycle ends.
public struct SamplePrinter: Sendable {
    public var samples: @Sendable ([Sample]) async -> Void
    public var cycleEnded: PollingManager.CycleObserver
    public init(samples: @escaping @Sendable ([Sample]) async -> Void, cycleEnded: @escaping PollingManager.CycleObserver) {
        self.samples = samples
        self.cycleEnded = cycleEnded
    }
}

/// The polling agent daemon: polls on schedule into the pipeline until stopped, reloads its pipeline on
/// request, and flushes publishers on the way out.
public actor Agent {
    let namespaces: [String]
    let configFile: String?
    let overrides: ConfigOverrides
    let logger: Logger
    private var config: LoadedConfig
    private var pipeline: Pipeline
    private var families: [any PollsterFamily]
    private var manager: PollingManager
    private var printer: SamplePrinter?
    private let partitioner: Partitioner?

    public init(namespaces: [String], configFile: String?, overrides: ConfigOverrides, config: LoadedConfig,
                printer: SamplePrinter? = nil, logger: Logger) throws(ConfigErrors) {
        self.namespaces = namespaces
        self.configFile = configFile
        self.overrides = overrides
        self.config = config
        self.logger = logger
        self.printer = printer
        partitioner = try AgentRuntime.partitioner(config.agent, logger: logger)
        let pipeline = try AgentRuntime.pipeline(config, logger: logger).get()
        self.pipeline = pipeline
        families = AgentRuntime.families(namespaces: namespaces, config: config, logger: logger)
        manager = Self.makeManager(config: config, families: families, pipeline: pipeline, printer: printer,
                                   partitioner: partitioner, namespaces: namespaces, logger: logger)
    }

    static func makeManager(config: LoadedConfig, families: [any PollsterFamily], pipeline: Pipeline,
                            printer: SamplePrinter?, partitioner: Partitioner?, namespaces: [String], logger: Logger) -> PollingManager {
        PollingManager(polling: config.polling, families: families, batchSize: config.agent.batchSize,
                       jitter: config.agent.jitter, partitioner: partitioner,
                       groupPrefix: AgentRuntime.groupPrefix(namespaces: namespaces, config: config.agent),
                       consumer: { samples in
                           if let printer { await printer.samples(samples) }
                           await pipeline.publish(samples)
                       }, cycleObserver: printer?.cycleEnded, logger: logger)
    }

    /// Polls until the task is cancelled (or `cycles` cycles ran), then drains the pipeline.
    public func run(cycles: Int? = nil) async {
        if let partitioner {
            await partitioner.prepare(groups: manager.partitioningGroups)
        }
        logger.info("agent started: namespaces \(namespaces.joined(separator: ",")), host \(config.agent.host), pollsters \(manager.activePollsters.joined(separator: ", ")), intervals \(manager.intervals.map { "\($0) s" }.joined(separator: ", "))")
        while true {
            let current = manager
            let task = Task { await current.run(cycles: cycles) }
            running = task
            await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
            // A reload replaces the manager and cancels the old run: continue with the new one.
            if Task.isCancelled || current === manager { break }
        }
        running = nil
        await shutdown()
    }

    private var running: Task<Void, Never>?

    /// Re-reads the configuration. On errors the old configuration stays in effect. Sinks whose
    /// definition did not change keep their transformer state.
    public func reload() async -> Bool {
        switch ConfigLoader.load(agentConfigFile: configFile, overrides: overrides) {
        case .failure(let e):
            logger.error("reload failed; keeping the running configuration:\n\(e)")
            return false
        case .success(let c):
            switch AgentRuntime.pipeline(c, reuse: pipeline, logger: logger) {
            case .failure(let e):
                logger.error("reload failed; keeping the running configuration:\n\(e)")
                return false
            case .success(let p):
                let old = pipeline
                let oldFamilies = families
                config = c
                pipeline = p
                // Families are rebuilt so newly selected meters get pollsters.
                families = AgentRuntime.families(namespaces: namespaces, config: c, logger: logger)
                manager = Self.makeManager(config: c, families: families, pipeline: p, printer: printer,
                                           partitioner: partitioner, namespaces: namespaces, logger: logger)
                running?.cancel()
                await old.retire(keeping: p)
                for f in oldFamilies { await f.shutdown() }
                logger.notice("configuration reloaded")
                return true
            }
        }
    }

    public func shutdown() async {
        logger.info("stopping: flushing publishers")
        await pipeline.shutdown()
        for f in families { await f.shutdown() }
        await partitioner?.stop()
    }

    public var pollingManager: PollingManager { manager }
}
