import ArgumentParser
import Metrics
import Prometheus
import ServiceLifecycle
import Foundation
import NephometerAgent
import NephometerConfig
import NephometerCore

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the polling agent: poll on schedule and publish through pipeline.yaml.",
        discussion: """
            A graceful stop on SIGTERM or SIGINT: scheduling stops, the running cycle finishes
            (within shutdown_grace), the coordination groups are left, transformers release what
            they hold and publishers deliver or spool the rest; exit 0. A second signal exits at
            once. SIGHUP (or --watch-config) re-reads every file; an invalid configuration is
            logged and the running one kept; otherwise only what changed changes (schedules,
            transformer state, spools and pollster state of unchanged parts are kept).

            Example:
              nephometer agent --namespaces compute --config /etc/nephometer/nephometer.yaml
              nephometer agent --namespaces compute --libvirt-uri test:///$PWD/node.xml --cycles 3 --print table
            """)

    @OptionGroup var configOptions: ConfigOptions
    @OptionGroup var namespaceOption: NamespaceOption
    @Option(help: "Stop after this many cycles of each interval (for demos and tests).")
    var cycles: Int?
    @Option(name: .customLong("print"), help: "Also print samples to stdout: table or json.")
    var printFormat: String?
    @Option(help: "Override the polling interval of every source, in seconds (for demos and tests).")
    var interval: Int?
    @Option(name: .customLong("metrics-listen"), help: "Serve /metrics, /healthz and /status on HOST:PORT (over metrics.listen; port 0 picks one).")
    var metricsListen: String?
    @Option(name: .customLong("ready-file"), help: "Write the status server's port here as JSON once it listens (for scripts and tests).")
    var readyFile: String?
    @Flag(name: .customLong("watch-config"), help: "Reload when the agent config, polling.yaml or pipeline.yaml changes, as SIGHUP does.")
    var watchConfig = false

    func run() async throws {
        let namespaces = try namespaceOption.resolved()
        var blueprint = try await configOptions.load()
        if let interval {
            guard (1...86_400).contains(interval) else { throw ValidationError("--interval must be 1…86400 seconds") }
            let p = blueprint.config.polling
            blueprint.config.polling = PollingConfig(file: p.file, sources: p.sources.map {
                PollingSource(name: $0.name, interval: interval, meters: $0.meters.patterns, resources: $0.resources,
                              discovery: $0.discovery, position: $0.position)
            })
        }
        if let c = cycles, c < 1 { throw ValidationError("--cycles must be at least 1") }
        if let m = metricsListen, let problem = ListenAddress.problem(m) { throw ValidationError("--metrics-listen: \(problem)") }
        let agentConfig = blueprint.config.agent
        let logger = Logs.bootstrap(agentConfig.logLevel, modules: agentConfig.moduleLogLevels)
        for w in blueprint.config.warnings { logger.warning("\(w)") }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(SelfMetricsFactory(registry: registry))
        var printer: SamplePrinter?
        if let printFormat {
            guard let fmt = SampleFormat(rawValue: printFormat) else {
                throw ValidationError("unknown print format '\(printFormat)'; expected table or json")
            }
            let output = SampleOutput(format: fmt)
            printer = SamplePrinter(samples: { await output.write($0) },
                                    cycleEnded: { interval, number, count, seconds in
                                        await output.cycleEnded(interval: interval, number: number, samples: count, seconds: seconds)
                                    })
        }
        let options = AgentOptions(namespaces: namespaces, configFile: configOptions.configFile, overrides: configOptions.overrides,
                                   cycles: cycles, printer: printer, metricsListen: metricsListen, watchConfig: watchConfig)
        let agent: Agent
        do {
            agent = try await Agent(options: options, blueprint: blueprint, logger: logger)
        } catch {
            Stderr.write("configuration is invalid:\n\(error)\n")
            throw ExitCode(1)
        }
        var status: (any Service)?
        if let listen = metricsListen ?? agentConfig.metricsListen {
            let ready = readyFile
            status = try StatusServer.service(listen: listen, agent: agent, registry: registry, logger: logger) { port in
                if let ready { try? "{\"metrics\": \(port)}\n".write(toFile: ready, atomically: true, encoding: .utf8) }
            }
        }
        await agent.prepare()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: SignalEscalationService(logger: logger))]
        services += await agent.services(statusServer: status)
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(clamping: agentConfig.shutdownGrace)
        configuration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: configuration)
        do {
            if ProcessInfo.processInfo.environment["NEPHOMETER_EXECUTOR"] == "pool" {
                try await group.run()
            } else {
                try await withTaskExecutorPreference(EventLoopTaskExecutor()) { try await group.run() }
            }
        } catch {
            logger.error("agent stopped: \(error)")
            throw ExitCode(1)
        }
        logger.info("stopped")
    }
}
