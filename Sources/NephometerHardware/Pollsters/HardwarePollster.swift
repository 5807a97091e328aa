import Logging
import NephometerCore

/// A hardware pollster: one `hardware.*` meter over the `snmp://` resources, reading the cycle's
/// shared snapshots (each host is read once per cycle whatever the number of meters).
public struct HardwarePollster: Pollster {
    public let meter: HardwareMeter
    let fetcher: HardwareFetcher
    let source: String

    public var name: String { meter.name }
    /// None: hardware resources come from polling.yaml `resources:` (Ceilometer's TripleO discovery is not ported).
    public var defaultDiscovery: String? { nil }

    public func poll(_ resources: [PollResource], cycle: PollCycle) async throws -> [Sample] {
        let snapshots = try await fetcher.snapshots(resources, cycle: cycle)
        var out: [Sample] = []
        out.reserveCapacity(resources.count)
        for r in resources {
            guard let s = snapshots[r.key] else { continue }
            guard let values = meter.read(s) else {
                fetcher.registry.once.log(fetcher.logger, .info, key: "absent/\(meter.name)/\(r.key)",
                                          "\(meter.name): the agent at \(s.resourceURL) does not provide it; not reported for that host")
                continue
            }
            for v in values {
                var metadata = v.metadata
                metadata.update(with: s.baseMetadata)
                var resourceID = s.resourceID
                if let suffix = v.suffix, !suffix.isEmpty {
                    resourceID += "." + suffix
                    metadata["resource_id"] = .string(resourceID)
                }
                out.append(Sample(name: meter.name, type: meter.type, unit: meter.unit, volume: v.volume,
                                  resourceID: resourceID, resourceMetadata: metadata, source: source))
            }
        }
        return out
    }
}
