import Logging
import NephometerCore

/// Reads libvirt once per cycle for all domains the compute pollsters ask about, and hands each
/// pollster its slice. Prefers one `virConnectGetAllDomainStats` call; drivers whose bulk stats carry
/// only domain state (libvirt's test driver) are detected once per connection and read per domain.
public actor ComputeInspector {
    let session: LibvirtSession
    let needs: InspectionNeeds
    let logger: Logger

    private var cycleID: UInt64?
    private var current: [String: DomainStats] = [:]
    /// Per connection generation: does bulk stats return more than state?
    private var bulkSupport: (generation: Int, supported: Bool)?

    public init(session: LibvirtSession, needs: InspectionNeeds, logger: Logger) {
        self.session = session
        self.needs = needs
        self.logger = logger
    }

    /// Stats for the given instances in this cycle (inspected on first request, then served from memory).
    /// Domains that vanished or failed are absent from the result.
    public func stats(for instances: [DiscoveredInstance], cycle: PollCycle) async throws -> [String: DomainStats] {
        let id = cycle.id
        if cycleID != id {
            cycleID = id
            current = [:]
        }
        let missing = instances.filter { current[$0.instance.id] == nil }
        if !missing.isEmpty {
            let fresh = try await inspect(missing)
            current.merge(fresh) { _, new in new }
        }
        var out: [String: DomainStats] = [:]
        for i in instances { if let s = current[i.instance.id] { out[i.instance.id] = s } }
        return out
    }

    private func inspect(_ instances: [DiscoveredInstance]) async throws -> [String: DomainStats] {
        let conn = try await session.get()
        let generation = await session.generation
        var bulk: [String: [String: TypedValue]] = [:]
        let groups = needs.bulkGroups
        let useBulk = groups != [.state] && (bulkSupport?.generation != generation || bulkSupport?.supported == true)
        if useBulk {
            do {
                let records = try await conn.allDomainStats(groups)
                for r in records { bulk[r.domain.uuid] = r.params }
                if bulkSupport?.generation != generation {
                    let supported = records.contains { $0.params.keys.contains { !$0.hasPrefix("state.") } }
                    bulkSupport = (generation, supported)
                    logger.info("libvirt at \(conn.uri): bulk domain stats \(supported ? "available" : "carry only state; reading domains one by one")")
                }
            } catch {
                await session.invalidate(after: error)
                if (error as? LibvirtError)?.isDisconnect == true { throw error }
                bulkSupport = (generation, false)
                logger.info("libvirt at \(conn.uri): bulk domain stats unavailable (\(error)); reading domains one by one")
            }
        }
        let bulkOK = bulkSupport?.supported == true
        let needs = self.needs
        let logger = self.logger
        let bulkByUUID = bulk
        return try await conn.run { () -> [String: DomainStats] in
            var out: [String: DomainStats] = [:]
            for di in instances {
                let d = di.domain
                do {
                    let info = try conn.info(d)
                    var s = DomainStats(info: info, bulk: bulkByUUID[d.uuid] ?? [:], polledAt: Time.monotonic())
                    let running = info.state != 5
                    if needs.contains(.memory), running, !bulkOK || s.bulk["balloon.current"] == nil {
                        s.memory = try? conn.memoryStats(d)
                    }
                    out[d.uuid] = s
                } catch let e as LibvirtError where e.isNoDomain {
                    logger.debug("domain \(d.uuid) vanished during inspection; skipped")
                } catch {
                    logger.warning("domain \(d.uuid): inspection failed: \(error)")
                }
            }
            return out
        }
    }
}
