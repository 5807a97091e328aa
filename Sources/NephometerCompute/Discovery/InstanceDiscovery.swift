import Foundation
import Logging
import NephometerCore
import Synchronization

/// What compute discovery hands to compute pollsters for one domain.
public struct DiscoveredInstance: Sendable {
    public let instance: Instance
    public let domain: LibvirtDomain
    /// `resource_metadata` trees for the instance's current state, built once per state change.
    public let shared: InstanceMetadata
    /// The instance's own `resource_metadata`.
    public var metadata: MetadataObject { shared.base }
    /// `virDomainGetInfo` as discovery read it this cycle, and when (wall clock): the inspector uses it
    /// rather than asking libvirt twice.
    public let info: DomainInfo?
    public let infoReadAt: Double
}

/// `local_instances`: the domains on this hypervisor that carry Nova metadata.
///
/// What does not change while a domain runs (its Nova metadata, disks and interfaces) is cached by
/// UUID and domain id, so XML is parsed only when a domain appears, is restarted, or libvirt reports a
/// lifecycle or metadata-change event for it (`DomainChanges`: Nova rewrites its metadata when an
/// instance is renamed or resized; the next cycle's samples carry the change). Domains without Nova
/// metadata are skipped with one debug line each.
public final class InstanceDiscovery: Discoverer {
    public let name = "local_instances"
    public var groupID: String? { host }
    let host: String
    let session: LibvirtSession
    let logger: Logger
    private let once = LogOnce()

    private struct Cached: Sendable {
        let domainID: Int
        let generation: Int
        var state: Int
        let statics: NovaMetadata.Static?  // nil = not a Nova instance
        var metadataByState: [Int: InstanceMetadata] = [:]
    }
    private let cache = Mutex<[String: Cached]>([:])

    public init(host: String, session: LibvirtSession, logger: Logger) {
        self.host = host
        self.session = session
        self.logger = logger
    }

    public func discover(parameter: String?, cycle: PollCycle) async throws -> [PollResource] {
        try await cycle.cached("compute.discovery") { [self] in
            try await self.discoverNow(cycle: cycle)
        }
    }

    /// What discovery read of one domain.
    private struct Found: Sendable {
        let domain: LibvirtDomain
        let domainID: Int
        let state: Int
        let statics: NovaMetadata.Static?
        /// `virDomainGetInfo` as read now (nil for a domain that did not answer), and when (wall clock).
        let info: DomainInfo?
        let readAt: Double
        /// The Nova metadata was read now (not taken from the cache).
        let fresh: Bool
    }

    func discoverNow(cycle: PollCycle) async throws -> [PollResource] {
        let conn = try await session.get()
        let generation = await session.generation
        let gate = session.gate
        let deadline = session.deadline
        let domains: [LibvirtDomain]
        switch await gate.run("list", seconds: deadline, { try conn.allDomains() }) {
        case .value(let d): domains = d
        case .failed(let error):
            await session.invalidate(after: error)
            throw error
        case .timedOut, .busy:
            await session.retire(conn)
            throw LibvirtUnavailable(uri: conn.uri, retryIn: 0, reason: "did not list its domains within \(deadline) s")
        }
        let hostID = host
        // Domains libvirt reported changed are read afresh; so is everything on a new connection.
        let changed = session.changes.take()
        let known = cache.withLock { cache in
            changed.all ? [:] : changed.uuids.isEmpty ? cache : cache.filter { !changed.uuids.contains($0.key) }
        }
        // Each domain's calls run on libvirt threads, several domains at a time, each under its deadline.
        var results: [Found] = []
        results.reserveCapacity(domains.count)
        var anyStuck = false
        let items = domains.map { d in (key: d.uuid, item: (d, known[d.uuid])) }
        let outcomes = await gate.runEach(items, lanes: CallGate.lanes(forDomains: items.count), seconds: deadline) { [logger] item in
            try Self.read(item.0, cached: item.1, generation: generation, conn: conn, logger: logger)
        }
        // What could not be read again stays changed for the next cycle.
        var unread: [String] = []
        let stale = cache.withLock { $0 }
        for (d, outcome) in zip(domains, outcomes) {
            if known[d.uuid] == nil, changed.all || changed.uuids.contains(d.uuid) {
                if case .value = outcome {} else { unread.append(d.uuid) }
            }
            switch outcome {
            case .value(let f?):
                results.append(f)
            case .value(nil):
                break
            case .failed(let error):
                if let e = error as? LibvirtError, e.isNoDomain { break }
                once.log(logger, .warning, key: "discover/\(d.uuid)", "domain \(d.name) (\(d.uuid)): \(error); not polled this cycle")
            case .timedOut, .busy:
                if case .timedOut = outcome { anyStuck = true }
                // A domain that hangs: known ones stay discovered (the inspector reports and skips
                // them); a new one is reported here.
                if let c = stale[d.uuid], c.generation == generation {
                    results.append(Found(domain: d, domainID: c.domainID, state: c.state, statics: c.statics, info: nil, readAt: 0, fresh: false))
                } else {
                    await cycle.couldNotRead(d.uuid, because: "libvirt did not describe the domain within \(deadline) s")
                }
            }
        }
        if !unread.isEmpty { session.changes.restore(unread) }
        if anyStuck { await session.retire(conn) }
        var resources: [PollResource] = []
        resources.reserveCapacity(results.count)
        cache.withLock { cache in
            var fresh: [String: Cached] = [:]
            for f in results {
                let (d, domID, state, statics) = (f.domain, f.domainID, f.state, f.statics)
                var entry = cache[d.uuid].flatMap { !f.fresh && $0.domainID == domID && $0.generation == generation ? $0 : nil }
                    ?? Cached(domainID: domID, generation: generation, state: state, statics: statics)
                entry.state = state
                if let s = entry.statics {
                    let inst = Instance(id: s.id, displayName: s.displayName, domainName: d.name, flavor: s.flavor,
                                        imageID: s.imageID, imageMeta: s.imageMeta, osType: s.osType,
                                        architecture: s.architecture, userID: s.userID, projectID: s.projectID,
                                        host: hostID, state: state, disks: s.disks, interfaces: s.interfaces)
                    let meta: InstanceMetadata
                    if let m = entry.metadataByState[state] { meta = m } else {
                        meta = InstanceMetadata(base: inst.resourceMetadata(hostID: inst.hostID), instance: inst)
                        entry.metadataByState[state] = meta
                    }
                    resources.append(PollResource(key: s.id, value: DiscoveredInstance(instance: inst, domain: d, shared: meta, info: f.info, infoReadAt: f.readAt)))
                }
                fresh[d.uuid] = entry
            }
            cache = fresh  // domains that vanished are forgotten
        }
        return resources
    }

    /// One domain's state, and its Nova metadata unless the cache has it. Runs on a libvirt thread.
    private static func read(_ d: LibvirtDomain, cached: Cached?, generation: Int, conn: LibvirtConnection, logger: Logger) throws -> Found? {
        let info: DomainInfo
        do { info = try conn.info(d) } catch let e as LibvirtError where e.isNoDomain { return nil }
        let readAt = Date().timeIntervalSince1970
        let domID = conn.id(d)
        if let c = cached, c.domainID == domID, c.generation == generation {
            return Found(domain: d, domainID: domID, state: info.state, statics: c.statics, info: info, readAt: readAt, fresh: false)
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
            return nil
        } catch {
            logger.error("domain \(d.name) (\(d.uuid)): cannot read Nova metadata: \(error); not polled")
        }
        return Found(domain: d, domainID: domID, state: info.state, statics: statics, info: info, readAt: readAt, fresh: true)
    }
}
