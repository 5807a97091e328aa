import Logging
import NephometerCore
import Synchronization

/// What compute discovery hands to compute pollsters for one domain.
public struct DiscoveredInstance: Sendable {
    public let instance: Instance
    public let domain: LibvirtDomain
    /// `resource_metadata` for the instance's current state, built once per state change.
    public let metadata: MetadataObject
}

/// `local_instances`: the domains on this hypervisor that carry Nova metadata.
///
/// What does not change while a domain runs (its Nova metadata, disks and interfaces) is cached by
/// UUID and domain id, so XML is parsed only when a domain appears or is restarted. Domains without Nova
/// metadata are skipped with one debug line each.
public final class InstanceDiscovery: Discoverer {
    public let name = "local_instances"
    public var groupID: String? { host }
    let host: String
    let session: LibvirtSession
    let logger: Logger
    private let once = LogOnce()

    private struct Cached {
        let domainID: Int
        let generation: Int
        let statics: NovaMetadata.Static?  // nil = not a Nova instance
        var metadataByState: [Int: MetadataObject] = [:]
    }
    private let cache = Mutex<[String: Cached]>([:])

    public init(host: String, session: LibvirtSession, logger: Logger) {
        self.host = host
        self.session = session
        self.logger = logger
    }

    public func discover(parameter: String?, cycle: PollCycle) async throws -> [PollResource] {
        try await cycle.cached("compute.discovery") { [self] in
            try await self.discoverNow()
        }
    }

    func discoverNow() async throws -> [PollResource] {
        let conn = try await session.get()
        let generation = await session.generation
        let domains: [LibvirtDomain]
        do {
            domains = try await conn.listAllDomains()
        } catch {
            await session.invalidate(after: error)
            throw error
        }
        let hostID = host
        // Identify what needs (re-)reading; libvirt calls run on libvirt threads, in parallel.
        let known = cache.withLock { $0 }
        let results = try await conn.run { [logger] () -> [(LibvirtDomain, Int, Int, NovaMetadata.Static?, Bool)] in
            var out: [(LibvirtDomain, Int, Int, NovaMetadata.Static?, Bool)] = []
            out.reserveCapacity(domains.count)
            for d in domains {
                let info: DomainInfo
                do { info = try conn.info(d) } catch let e as LibvirtError where e.isNoDomain { continue }
                let domID = conn.id(d)
                if let c = known[d.uuid], c.domainID == domID, c.generation == generation {
                    out.append((d, domID, info.state, c.statics, false))
                    continue
                }
                var statics: NovaMetadata.Static?
                do {
                    var xml: String?
                    for ns in NovaMetadata.namespaces {
                        if let m = try conn.metadata(d, namespace: ns) { xml = m; break }
                    }
                    if let xml {
                        statics = try NovaMetadata.parse(uuid: d.uuid, metadataXML: xml, domainXML: try conn.xml(d))
                    } else {
                        logger.debug("domain \(d.name) (\(d.uuid)) has no Nova metadata; not polled")
                    }
                } catch let e as LibvirtError where e.isNoDomain {
                    continue
                } catch {
                    logger.error("domain \(d.name) (\(d.uuid)): cannot read Nova metadata: \(error); not polled")
                }
                out.append((d, domID, info.state, statics, true))
            }
            return out
        }
        var resources: [PollResource] = []
        resources.reserveCapacity(results.count)
        cache.withLock { cache in
            var fresh: [String: Cached] = [:]
            for (d, domID, state, statics, _) in results {
                var entry = cache[d.uuid].flatMap { $0.domainID == domID && $0.generation == generation ? $0 : nil }
                    ?? Cached(domainID: domID, generation: generation, statics: statics)
                if let s = entry.statics {
                    let inst = Instance(id: s.id, displayName: s.displayName, domainName: d.name, flavor: s.flavor,
                                        imageID: s.imageID, imageMeta: s.imageMeta, osType: s.osType,
                                        architecture: s.architecture, userID: s.userID, projectID: s.projectID,
                                        host: hostID, state: state, disks: s.disks, interfaces: s.interfaces)
                    let meta: MetadataObject
                    if let m = entry.metadataByState[state] { meta = m } else {
                        meta = inst.resourceMetadata(hostID: inst.hostID)
                        entry.metadataByState[state] = meta
                    }
                    resources.append(PollResource(key: s.id, value: DiscoveredInstance(instance: inst, domain: d, metadata: meta)))
                }
                fresh[d.uuid] = entry
            }
            cache = fresh  // domains that vanished are forgotten
        }
        return resources
    }
}
