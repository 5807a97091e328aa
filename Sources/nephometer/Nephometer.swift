import ArgumentParser
import NephometerCore

@main
struct Nephometer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nephometer",
        abstract: "Telemetry polling agents for OpenStack clouds (a Ceilometer-compatible poller).",
        discussion: """
            Examples:
              nephometer agent --namespaces compute --config etc/nephometer.yaml
              nephometer poll --namespaces compute --once --format json
              nephometer validate --config etc/nephometer.yaml
            """,
        subcommands: [AgentCommand.self, PollCommand.self, ValidateCommand.self, ReceiveCommand.self, RingCommand.self]
    )

    static func main() async {
        BrokenPipes.ignore()
        MallocArenas.limit()
        do {
            var command = try parseAsRoot()
            if var c = command as? AsyncParsableCommand { try await c.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}
