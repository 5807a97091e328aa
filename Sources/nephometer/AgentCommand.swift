import ArgumentParser
import Dispatch
import Foundation
import NephometerAgent
import NephometerConfig
import NephometerCore

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the polling agent: poll on schedule and publish through pipeline.yaml.",
        discussion: """
            Stops cleanly on SIGINT or SIGTERM after flushing publishers; SIGHUP re-reads
            polling.yaml and pipeline.yaml (sinks whose definition is unchanged keep their
            transformer state; an invalid new configuration is logged and the old one kept).

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

    func run() async throws {
        let namespaces = try namespaceOption.resolved()
        var config = try configOptions.load()
        if let interval {
            guard interval > 0 else { throw ValidationError("--interval must be > 0") }
            config.polling = PollingConfig(file: config.polling.file, sources: config.polling.sources.map {
                PollingSource(name: $0.name, interval: interval, meters: $0.meters.patterns, resources: $0.resources,
                              discovery: $0.discovery, position: $0.position)
            })
        }
        if let c = cycles, c < 1 { throw ValidationError("--cycles must be at least 1") }
        let logger = Logs.bootstrap(config.agent.logLevel)
        for w in config.warnings { logger.warning("\(w)") }
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
        let agent: Agent
        do {
            agent = try Agent(namespaces: namespaces, configFile: configOptions.configFile,
                              overrides: configOptions.overrides, config: config, printer: printer, logger: logger)
        } catch {
            Stderr.write("configuration is invalid:\n\(error)\n")
            throw ExitCode(1)
        }
        let cycles = self.cycles
        let runTask = Task { await agent.run(cycles: cycles) }
        let signals = SignalWatcher(
            onStop: { name in
                logger.notice("received \(name); stopping")
                runTask.cancel()
            },
            onReload: { Task { _ = await agent.reload() } })
        await runTask.value
        signals.cancel()
    }
}

/// SIGINT/SIGTERM stop the agent, SIGHUP reloads it.
final class SignalWatcher: @unchecked Sendable {  // sources are only touched in init and cancel
    private let sources: [any DispatchSourceSignal]

    init(onStop: @escaping @Sendable (String) -> Void, onReload: @escaping @Sendable () -> Void) {
        var list: [any DispatchSourceSignal] = []
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { sig == SIGHUP ? onReload() : onStop(name) }
            s.resume()
            list.append(s)
        }
        sources = list
    }

    func cancel() { for s in sources { s.cancel() } }
}
