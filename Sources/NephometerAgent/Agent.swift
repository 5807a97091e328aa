import Foundation
import Logging
import Metrics
import NephometerConfig
import NephometerCoordination
import NephometerCore
import NephometerPipeline
import NephometerPublishers
import ServiceLifecycle
import Synchronization

/// Prints what the agent polls (`agent --print`): samples, and a line when each cycle ends.
public struct SamplePrinter: Sendable {
    public var samples: @Sendable ([Sample]) async -> Void
    public var cycleEnded: PollingManager.CycleObserver
    public init(samples: @escaping @Sendable ([Sample]) async -> Void, cycleEnded: @escaping PollingManager.CycleObserver) {
        self.samples = samples
        self.cycleEnded = cycleEnded
    }
}

/// How `nephometer agent` was asked to run.
public struct AgentOptions: Sendable {
    public var namespaces: [String]
    public var configFile: String?
    public var overrides: ConfigOverrides
    /// Stop after this many cycles of each interval (demos, tests).
    public var cycles: Int?
    public var printer: SamplePrinter?
    /// `--metrics-listen`, over `metrics.listen`.
    public var metricsListen: String?
    /// Re-read the files when they change (`--watch-config`), as SIGHUP does.
    public var watchConfig: Bool
    public init(namespaces: [String], configFile: String?, overrides: ConfigOverrides, cycles: Int? = nil,
                printer: SamplePrinter? = nil, metricsListen: String? = nil, watchConfig: Bool = false) {
        self.namespaces = namespaces
        self.configFile = configFile
        self.overrides = overrides
        self.cycles = cycles
        self.printer = printer
        self.metricsListen = metricsListen
        self.watchConfig = watchConfig
    }
}

/// The polling agent: the services one configuration makes, and reloads that change only what changed.
///
/// Services (started in this order, stopped in reverse, in one `ServiceGroup`): the status server
/// (`/metrics`, `/healthz`, `/status`), the pipeline (queue → sinks → publishers and their deliveries),
/// the families' long-lived work (the SNMP engine), membership (heartbeats, watches; leaving the groups
/// on a stop), the schedule, the reload watcher, Ceilometer's heartbeat socket. A graceful stop thus
/// stops scheduling, lets the running cycle finish, leaves the coordination groups, drains the queue
/// and the sinks, and delivers or spools what publishers hold.
public actor Agent {
    public let options: AgentOptions
    let logger: Logger
    private(set) var blueprint: Blueprint
    private var families: [String: any PollsterFamily]
    public let manager: PollingManager
    let queue: SampleQueue
    let pipelineService: PipelineService
    /// Ceilometer's Prometheus exporter, when `enable_prometheus_exporter` is on.
    let exporter: CeilometerExporter?
    /// Its servers, one per `prometheus_listen_addresses` entry.
    let exporterServices: [any Service]
    /// The agent settings at start: what a reload cannot change (the exporter, metrics.listen) is compared with them.
    let startConfig: AgentConfig
    let familiesService: FamiliesService
    public let partitioner: Partitioner?
    let io = BlockingQueue(label: "nephometer.config")
    let startedAt = Date().timeIntervalSince1970
    private(set) var reloads = (succeeded: 0, failed: 0, last: "")

    /// Builds everything from a validated blueprint (see `AgentRuntime.load`).
    public init(options: AgentOptions, blueprint: Blueprint, logger: Logger) async throws(ConfigErrors) {
        self.options = options
        self.blueprint = blueprint
        self.logger = logger
        let config = blueprint.config
        let pipeline = try AgentRuntime.pipeline(config, logger: logger).get()
        partitioner = try AgentRuntime.partitioner(config.agent, logger: logger)
        families = await AgentRuntime.families(blueprint, namespaces: options.namespaces, logger: logger)
        let queue = SampleQueue(maxSamples: config.agent.queueMaxSamples, policy: config.agent.queueFull, logger: logger)
        self.queue = queue
        let longest = Double(config.polling.sources.map(\.interval).max() ?? 600)
        let exporter = config.agent.prometheusExporter ? CeilometerExporter(staleAfter: 2 * longest + 5) : nil
        self.exporter = exporter
        var exporterServices: [any Service] = []
        if let exporter {
            let tls = blueprint.exporterTLS
            for listen in config.agent.prometheusListen {
                do { exporterServices.append(try CeilometerExporter.service(listen: listen, tls: tls, exporter: exporter, logger: logger)) } catch {
                    throw ConfigErrors([ConfigError(file: "(configuration)", line: 0, column: 0, keyPath: "polling.prometheus_listen_addresses",
                                                    message: "\(error)")])
                }
            }
        }
        self.exporterServices = exporterServices
        startConfig = config.agent
        pipelineService = PipelineService(pipeline: pipeline, bus: try AgentRuntime.bus(config, logger: logger), exporter: exporter,
                                          queue: queue, logger: logger)
        familiesService = FamiliesService(families: Array(families.values))
        let printer = options.printer
        manager = PollingManager(polling: config.polling, families: options.namespaces.compactMap { [families] in families[$0] },
                                 batchSize: config.agent.batchSize, jitter: config.agent.jitter, partitioner: partitioner,
                                 groupPrefix: AgentRuntime.groupPrefix(namespaces: options.namespaces, config: config.agent),
                                 consumer: { samples in
                                     if let printer { await printer.samples(samples) }
                                     await queue.offer(samples)
                                 }, cycleObserver: printer?.cycleEnded, logger: logger)
    }

    /// The services, in start order.
    public func services(statusServer: (any Service)?) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        var s: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let statusServer { s.append(.init(service: statusServer)) }
        s.append(.init(service: pipelineService))
        for service in exporterServices { s.append(.init(service: service)) }
        s.append(.init(service: familiesService))
        if let partitioner { s.append(.init(service: MembershipService(partitioner: partitioner))) }
        s.append(.init(service: PollingService(manager: manager, cycles: options.cycles),
                       successTerminationBehavior: .gracefullyShutdownGroup))
        s.append(.init(service: ReloadService(agent: self, watch: options.watchConfig ? watchedFiles : [])))
        if let dir = blueprint.config.agent.heartbeatSocketDirectory {
            s.append(.init(service: HeartbeatSocketService(directory: dir, namespaces: options.namespaces,
                                                           statistics: manager.statistics, logger: logger)))
        }
        return s
    }

    /// Joins the coordination groups the first cycle needs, and logs what runs.
    public func prepare() async {
        if let partitioner { await partitioner.prepare(groups: manager.partitioningGroups) }
        logger.info("agent started: namespaces \(options.namespaces.joined(separator: ",")), host \(blueprint.config.agent.host), pollsters \(manager.activePollsters.joined(separator: ", ")), intervals \(manager.intervals.map { "\($0) s" }.joined(separator: ", "))")
    }

    /// The files a reload re-reads.
    var watchedFiles: [String] {
        [options.configFile, blueprint.config.agent.ceilometerConfigFile, blueprint.config.agent.pollingFile, blueprint.config.agent.pipelineFile].compactMap { $0 }
    }

    /// Re-reads and validates every file; on any error logs every error and keeps the running
    /// configuration. Otherwise changes only what changed: intervals that remain keep their schedule
    /// and phase, unchanged sinks their transformer state, publishers (by URL) their spools, families
    /// whose options are unchanged their state; groups are joined or left as the polling sources need.
    @discardableResult
    public func reload() async -> Bool {
        let configFile = options.configFile, overrides = options.overrides
        let loaded = await io.run { AgentRuntime.load(agentConfigFile: configFile, overrides: overrides) }
        let b: Blueprint
        switch loaded {
        case .failure(let e):
            return reloadFailed(e)
        case .success(let new):
            b = new
        }
        let pipeline: Pipeline
        switch AgentRuntime.pipeline(b.config, reuse: pipelineService.pipeline, logger: logger) {
        case .failure(let e): return reloadFailed(e)
        case .success(let p): pipeline = p
        }
        let old = families
        let next = await AgentRuntime.families(b, namespaces: options.namespaces, reuse: old, reusedOptions: blueprint.familyOptions, logger: logger)
        await pipelineService.replace(with: pipeline)
        let a = b.config.agent
        manager.reconfigure(polling: b.config.polling, families: options.namespaces.compactMap { next[$0] }, batchSize: a.batchSize,
                            jitter: a.jitter, groupPrefix: AgentRuntime.groupPrefix(namespaces: options.namespaces, config: a))
        for (ns, f) in next where old[ns].map({ ($0 as AnyObject) !== (f as AnyObject) }) ?? true { familiesService.start(f) }
        for (ns, f) in old where next[ns].map({ ($0 as AnyObject) !== (f as AnyObject) }) ?? true { await f.shutdown() }
        families = next
        if let partitioner {
            let groups = manager.partitioningGroups
            await partitioner.prepare(groups: groups)
            await partitioner.retain(groups: groups)
        }
        if b.coordination?.raw != blueprint.coordination?.raw {
            logger.warning("coordination.backend_url changed; the new backend is used after a restart")
        }
        if AgentRuntime.publisherContext(b.config) != AgentRuntime.publisherContext(blueprint.config) {
            logger.warning("telemetry_secret, host or publisher spool settings changed; running publishers keep theirs until a restart (new ones use them)")
        }
        if a.metricsListen != startConfig.metricsListen {
            logger.warning("metrics.listen changed; the new address is used after a restart")
        }
        let was = startConfig
        if a.prometheusExporter != was.prometheusExporter || a.prometheusListen != was.prometheusListen || a.prometheusTLS != was.prometheusTLS
            || a.prometheusTLSCertFile != was.prometheusTLSCertFile || a.prometheusTLSKeyFile != was.prometheusTLSKeyFile {
            logger.warning("the Prometheus exporter's settings changed (enable_prometheus_exporter, prometheus_listen_addresses, prometheus_tls_*); they are used after a restart")
        }
        for w in b.config.warnings { logger.warning("\(w)") }
        blueprint = b
        reloads.succeeded += 1
        reloads.last = "reloaded at \(Time.isoTimestamp())"
        Counter(label: "nephometer_reloads_total", dimensions: [("result", "success")]).increment()
        logger.notice("configuration reloaded")
        return true
    }

    private func reloadFailed(_ e: ConfigErrors) -> Bool {
        reloads.failed += 1
        reloads.last = "failed at \(Time.isoTimestamp()): \(e.errors.count) error(s)"
        Counter(label: "nephometer_reloads_total", dimensions: [("result", "failure")]).increment()
        logger.error("reload failed; keeping the running configuration:\n\(e)")
        return false
    }

    // MARK: What the status server shows

    public func status() async -> AgentStatus {
        let c = blueprint.config
        var pubs: [AgentStatus.PublisherState] = []
        for p in pipelineService.allPublishers {
            pubs.append(.init(url: p.displayURL, delivery: await p.deliveryStatistics()))
        }
        var fam: [FamilyStatus] = []
        for ns in options.namespaces { if let f = families[ns] { fam.append(await f.status()) } }
        let groups = await partitioner?.snapshot() ?? []
        let d = queue.depth
        return AgentStatus(
            namespaces: options.namespaces, host: c.agent.host, version: Version.string,
            configFiles: [("agent", options.configFile ?? "(defaults)"), ("polling", c.polling.file), ("pipeline", c.pipeline.file)],
            startedAt: startedAt, intervals: manager.intervals, cycles: manager.statistics.all,
            cyclesRunning: manager.statistics.inProgress, jitter: c.agent.jitter, publishers: pubs, families: fam,
            memberID: partitioner?.memberID, groups: groups.map { .init(name: $0.group, members: $0.members, owned: $0.owned) },
            queueSamples: d.samples, queueBatches: d.batches, queueDropped: queue.dropped,
            reloadsSucceeded: reloads.succeeded, reloadsFailed: reloads.failed, lastReload: reloads.last)
    }
}

/// The families' long-lived work: each family's `run` in one task group, new families (a reload that
/// changed their options) added while it runs; on a stop every family releases its sessions.
final class FamiliesService: Service, Sendable {
    private let starts = AsyncStream<any PollsterFamily>.makeStream()
    private let all = Mutex<[any PollsterFamily]>([])

    init(families: [any PollsterFamily]) {
        for f in families { start(f) }
    }

    func start(_ f: any PollsterFamily) {
        all.withLock { $0.append(f) }
        starts.continuation.yield(f)
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown { [starts] in
            await withDiscardingTaskGroup { group in
                for await f in starts.stream { group.addTask { await f.run() } }
            }
        }
        for f in all.withLock({ $0 }) { await f.shutdown() }
    }
}
