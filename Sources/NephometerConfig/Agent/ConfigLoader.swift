import Foundation

/// Everything an agent needs from its files, validated.
public struct LoadedConfig: Sendable {
    public var agent: AgentConfig
    public var polling: PollingConfig
    public var pipeline: PipelineConfig
    public var warnings: [ConfigWarning]
}

/// Command-line values that override the agent config file.
public struct ConfigOverrides: Sendable {
    public var pollingFile: String?
    public var pipelineFile: String?
    public var libvirtURI: String?
    public var host: String?
    public var secret: String?
    public var spoolDirectory: String?
    public var coordinationURL: String?
    public var logLevel: AgentConfig.LogLevel?
    /// `--ceilometer-config`: the operator's ceilometer.conf.
    public var ceilometerConfig: String?
    /// `--transport-url`.
    public var transportURL: String?
    public init(pollingFile: String? = nil, pipelineFile: String? = nil, libvirtURI: String? = nil,
                host: String? = nil, secret: String? = nil, spoolDirectory: String? = nil, coordinationURL: String? = nil,
                logLevel: AgentConfig.LogLevel? = nil) {
        self.pollingFile = pollingFile
        self.pipelineFile = pipelineFile
        self.libvirtURI = libvirtURI
        self.host = host
        self.secret = secret
        self.spoolDirectory = spoolDirectory
        self.coordinationURL = coordinationURL
        self.logLevel = logLevel
    }
}

/// Loads and validates the three files. A pure function of the files and overrides: the same code
/// runs for `validate`, agent start-up and reload.
public enum ConfigLoader {
    /// Default locations of the agent config, tried in order when `--config` is not given.
    public static let defaultAgentConfigPaths = ["etc/nephometer.yaml", "/etc/nephometer/nephometer.yaml"]

    /// The agent config file to use: the explicit one, else the first default that exists.
    public static func agentConfigPath(explicit: String?) -> String? {
        if let explicit { return explicit }
        return defaultAgentConfigPaths.first { FileManager.default.fileExists(atPath: $0) }
    }

    public static func load(agentConfigFile: String?, overrides: ConfigOverrides = ConfigOverrides(), componentSections: [String] = [])
        -> Result<LoadedConfig, ConfigErrors>
    {
        let d = Diagnostics()
        var agent = AgentConfig()
        var node: ConfigNode?
        if let path = agentConfigFile {
            do { node = try ConfigNode.load(file: path) } catch { return .failure(error) }
        }
        // ceilometer.conf first: nephometer.yaml and the command line override what it sets.
        var ceilometerFile = overrides.ceilometerConfig
        if ceilometerFile == nil, let n = node?["ceilometer_config"], !n.isNull {
            guard let v = n.expectString("a path to ceilometer.conf", d) else { return .failure(ConfigErrors(d.errors)) }
            let dir = (n.position.file as NSString).deletingLastPathComponent
            ceilometerFile = v.hasPrefix("/") || dir.isEmpty ? v : (dir as NSString).appendingPathComponent(v)
        }
        if let file = ceilometerFile {
            do {
                let ini = try INIFile(file: file)
                CeilometerConf.apply(ini, to: &agent, d)
                agent.ceilometerConfigFile = file
            } catch {
                return .failure(error)
            }
            guard d.errors.isEmpty else { return .failure(ConfigErrors(d.errors)) }
        }
        if let node {
            guard let a = AgentConfig.validate(node, d, componentSections: componentSections, base: agent) else { return .failure(ConfigErrors(d.errors)) }
            agent = a
        }
        if let v = overrides.pollingFile { agent.pollingFile = v }
        if let v = overrides.pipelineFile { agent.pipelineFile = v; agent.pipelineFileExplicit = true }
        if let v = overrides.transportURL {
            agent.messaging.transportURL = v.isEmpty ? nil : v
            agent.messagingPosition = nil
        }
        if let v = overrides.host { agent.host = v }
        if let v = overrides.secret { agent.telemetrySecret = v }
        if let v = overrides.spoolDirectory { agent.spoolDirectory = v }
        if let v = overrides.coordinationURL {
            agent.coordinationURL = v.isEmpty ? nil : v
            agent.coordinationURLPosition = nil
        }
        if let v = overrides.logLevel { agent.logLevel = v }

        var polling: PollingConfig?
        var pipeline: PipelineConfig?
        var errors: [ConfigError] = []
        do {
            polling = PollingConfig.validate(try ConfigNode.load(file: agent.pollingFile), d)
        } catch {
            errors += error.errors
        }
        if !agent.pipelineFileExplicit, agent.messaging.transportURL != nil, agent.messaging.enableNotifications,
           agent.ceilometerConfigFile != nil || !FileManager.default.fileExists(atPath: agent.pipelineFile) {
            // As ceilometer-polling: samples go to the notification bus; no pipeline of our own.
            pipeline = PipelineConfig(file: "(none: samples go to the notification bus)", sources: [], sinks: [])
        } else {
            do {
                pipeline = PipelineConfig.validate(try ConfigNode.load(file: agent.pipelineFile), d)
            } catch {
                errors += error.errors
            }
        }
        errors += d.errors
        guard errors.isEmpty, let polling, let pipeline else { return .failure(ConfigErrors(errors)) }
        return .success(LoadedConfig(agent: agent, polling: polling, pipeline: pipeline, warnings: d.warnings))
    }
}
