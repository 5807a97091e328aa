import ArgumentParser
import NephometerAgent
import NephometerConfig

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the agent config, polling.yaml and pipeline.yaml without starting anything.",
        discussion: """
            Prints a one-line summary and exits 0 when valid; prints every error as
            file:line:column: key: message and exits 1 otherwise. Warnings (for example a
            Ceilometer publisher Nephometer does not implement) go to stderr and do not fail.

            Example:
              nephometer validate --config etc/nephometer.yaml
              nephometer validate --polling /etc/ceilometer/polling.yaml --pipeline /etc/ceilometer/pipeline.yaml
            """)

    @Option(help: "Agent config file (default: etc/nephometer.yaml, then /etc/nephometer/nephometer.yaml).")
    var config: String?
    @Option(help: "polling.yaml to check instead of the one the agent config names.")
    var polling: String?
    @Option(help: "pipeline.yaml to check instead of the one the agent config names.")
    var pipeline: String?
    @Option(name: .customLong("ceilometer-config"), help: "The operator's ceilometer.conf, applied under the agent config.")
    var ceilometerConfig: String?
    @Option(name: .customLong("transport-url"), help: "Notification bus transport URL to check.")
    var transportURL: String?

    var overrides: ConfigOverrides {
        var o = ConfigOverrides(pollingFile: polling, pipelineFile: pipeline)
        o.ceilometerConfig = ceilometerConfig
        o.transportURL = transportURL
        return o
    }

    func run() throws {
        let result = AgentRuntime.validate(agentConfigFile: ConfigLoader.agentConfigPath(explicit: config),
                                           overrides: overrides)
        for w in result.warnings { Stderr.write("warning: \(w)\n") }
        guard result.errors.isEmpty else {
            for e in result.errors { print("\(e)") }
            print("\(result.errors.count) error(s)")
            throw ExitCode(1)
        }
        print(result.summary)
    }
}
