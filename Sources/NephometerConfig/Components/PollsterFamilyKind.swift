import Logging
import NephometerCore

/// A pollster family's options, compared on reload: unchanged options keep the running family and its
/// state (connections, sessions, counters), changed ones make a new one.
public protocol FamilyOptions: Sendable {
    func same(as other: any FamilyOptions) -> Bool
}

extension FamilyOptions where Self: Equatable {
    public func same(as other: any FamilyOptions) -> Bool { (other as? Self) == self }
}

/// A kind of pollster family, registered by namespace (`compute`, `central`): its meters, the section
/// of nephometer.yaml it owns and validates, and how to make the family.
///
/// A new family is a module (or folder) with its pollsters, its kind, a README with its meters and
/// options, a commented section in `etc/nephometer.yaml`, tests, and one line in the agent's family
/// registry.
public protocol PollsterFamilyKind: Sendable {
    var namespace: String { get }
    var meterNames: [String] { get }
    /// The nephometer.yaml key of the family's section.
    var section: String { get }
    /// Validates the section (nil when absent) with positioned diagnostics and applies the command
    /// line's overrides; nil on errors.
    func options(_ section: ConfigNode?, agent: AgentConfig, overrides: ConfigOverrides, _ d: Diagnostics) -> (any FamilyOptions)?
    /// A family for these options, with pollsters for the enabled meters.
    func make(_ options: any FamilyOptions, enabled: Set<String>, logger: Logger) -> any PollsterFamily
}
