import Foundation
import NephometerCore

/// Real OpenStack telemetry daemons for a test — RabbitMQ, and as asked PostgreSQL, Keystone, Gnocchi
/// and Ceilometer 27's `ceilometer-agent-notification` — started by `scripts/openstack-env` on free
/// loopback ports in a temporary directory (venvs from PyPI on first use), and stopped by `stop()` or,
/// whatever happens to the test process, by the `ProcessReaper`.
public final class OpenStackEnv: @unchecked Sendable {
    /// The environment's directory (a temporary one unless given).
    public let path: String
    private let temporary: TemporaryDirectory?
    public let env: MetadataValue
    private var stopped = false

    public static var tool: String { Fixtures.root.appendingPathComponent("scripts/openstack-env/openstack-env.py").path }

    /// `directory`: an environment already started there (by `openstack-env.py start`, e.g. outside a
    /// `taskset` that should not pin the daemons) is reused when healthy.
    public init(components: [String], directory: String? = nil, timeout: Double = 600) throws {
        temporary = directory == nil ? TemporaryDirectory("osenv") : nil
        path = directory ?? temporary?.path ?? ""
        let r = try Command.run("/usr/bin/python3", [Self.tool, "start", "--dir", path, "--components", components.joined(separator: ",")], timeout: timeout)
        let envFile = (path as NSString).appendingPathComponent("env.json")
        let parsed = try? JSONParser.parse(String(contentsOfFile: envFile, encoding: .utf8))
        if let processes = parsed?["processes"], case .array(let list) = processes {
            for p in list {
                if let pid = p["pid"]?.numberValue { ProcessReaper.register(pid: Int32(pid.doubleValue), name: "openstack-env \(p["name"]?.stringValue ?? "")") }
            }
        }
        guard r.status == 0, let parsed, parsed["status"]?.stringValue == "ready" else {
            _ = try? Command.run("/usr/bin/python3", [Self.tool, "stop", "--dir", path], timeout: 60)
            throw DaemonFailed(name: "openstack-env (\(components.joined(separator: ",")))", log: r.stderr)
        }
        env = parsed
    }

    public subscript(_ component: String, _ key: String) -> String? { env[component]?[key]?.stringValue }

    public var transportURL: String { self["rabbitmq", "transport_url"] ?? "" }
    public var samplesFile: String { self["notification", "samples_file"] ?? "" }

    /// `rabbitmqctl` with the private node's environment.
    @discardableResult
    public func rabbitmqctl(_ args: [String], timeout: Double = 60) throws -> CommandResult {
        try Command.run(self["rabbitmq", "rabbitmqctl_wrapper"] ?? "false", args, timeout: timeout)
    }

    public func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? Command.run("/usr/bin/python3", [Self.tool, "stop", "--dir", path], timeout: 120)
        if case .array(let list)? = env["processes"] {
            for p in list { if let pid = p["pid"]?.numberValue { ProcessReaper.unregister(pid: Int32(pid.doubleValue)) } }
        }
    }

    deinit { stop() }
}
