import Logging
import NephometerCore

/// The `central` namespace: SNMP `hardware.*` pollsters. (Placeholder until the SNMP engine lands.)
public final class HardwareFamily: PollsterFamily {
    public struct Options: Sendable {
        public init() {}
    }
    public let namespace = "central"
    public let pollsters: [any Pollster] = []
    public let discoverers: [any Discoverer] = []
    public init(options: Options, enabled: Set<String>, logger: Logger) {}
    public static var meterNames: [String] { [] }
    public func shutdown() async {}
}
