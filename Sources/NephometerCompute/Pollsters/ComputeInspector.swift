import Foundation
import Logging
import NephometerCore
import Synchronization

/// Reads libvirt once per cycle for all domains the compute pollsters ask about, and hands each
/// pollster its slice.
///
/// Prefers one `virConnectGetAllDomainStats` call (with NOWAIT, so a domain busy with a job does not
/// block the others) asking only for the stats groups the enabled meters need. Drivers whose bulk stats
/// carry only domain state (libvirt's test driver) are detected once per connection and read domain by
/// domain. Per-domain calls run in parallel on libvirt threads, each domain with its own deadline: a
/// domain that takes longer is skipped for the cycle and counted, and never delays the others.
public actor ComputeInspector {
    let session: LibvirtSession
    private(set) var needs: InspectionNeeds
    let deadline: Double
    let parallelism: Int
    let logger: Logger
    private let once = LogOnce()

    private var cycleID: UInt64?
    private var current: [String: DomainStats] = [:]
    /// Instances inspected (successfully or not) in the current cycle: not tried twice.
    private var tried: Set<String> = []
    /// Per connection generation: does bulk stats return more than state?
    private var bulkSupport: (generation: Int, supported: Bool)?
    /// Previous rx/tx bytes per tap device, for the byte-delta meters.
    private var lastBytes: [String: Int64] = [:]
    /// Domains skipped because they missed their deadline, since start.
    public private(set) var deadlineMisses = 0

    public init(session: LibvirtSession, needs: InspectionNeeds, deadline: Double = 10, parallelism: Int = CallGate.domainLanes, logger: Logger) {
        self.session = session
        self.needs = needs
        self.deadline = deadline
        self.parallelism = max(1, parallelism)
        self.logger = logger
    }

    /// What to read from now on (a reload that changed the enabled meters).
    func setNeeds(_ n: InspectionNeeds) {
        if n != needs { bulkSupport = nil }
        needs = n
    }

    /// Stats for the given instances in this cycle (inspected on first request, then served from memory).
    /// Domains that vanished, failed or missed their deadline are absent from the result; those that
    /// could not be read are recorded in the cycle's problems.
    public func stats(for instances: [DiscoveredInstance], cycle: PollCycle) async throws -> [String: DomainStats] {
        if cycleID != cycle.id {
            cycleID = cycle.id
            current = [:]
            tried = []
        }
        let missing = instances.filter { current[$0.instance.id] == nil && !tried.contains($0.instance.id) }
        if !missing.isEmpty {
            for m in missing { tried.insert(m.instance.id) }
            let fresh = try await inspect(missing, cycle: cycle)
            current.merge(fresh) { _, new in new }
        }
        var out: [String: DomainStats] = [:]
        for i in instances { if let s = current[i.instance.id] { out[i.instance.id] = s } }
        return out
    }

    private func inspect(_ instances: [DiscoveredInstance], cycle: PollCycle) async throws -> [String: DomainStats] {
        var conn = try await session.get()
        let generation = await session.generation
        let gate = session.gate
        let started = Time.monotonic()
        // A domain whose call of an earlier cycle has not returned is skipped until it answers.
        var ready: [DiscoveredInstance] = []
        for di in instances {
            if let since = gate.busyKeys[di.domain.uuid] {
                await noteStuck(di, since: since, cycle: cycle)
            } else {
                ready.append(di)
            }
        }
        var bulk: [String: [String: TypedValue]] = [:]
        var bulkReadAt = Date().timeIntervalSince1970
        var bulkMissed = false
        let groups = needs.bulkGroups
        if groups != [.state], !ready.isEmpty, bulkSupport?.generation != generation || bulkSupport?.supported == true {
            let domains = ready.map(\.domain)
            let bulkConn = conn
            // Up to two calls for all domains may be stuck at once (one that hung, and one that excludes
            // the domain found stuck); beyond that, domains are read one by one.
            let key = ["bulk", "bulk-2"].first { !gate.isBusy($0) } ?? "bulk"
            switch await gate.run(key, seconds: deadline, { (try bulkConn.stats(of: domains, groups: groups), Date().timeIntervalSince1970) }) {
            case .value(let (records, at)):
                for r in records { bulk[r.domain.uuid] = r.params }
                bulkReadAt = at
                once.clear("bulk-deadline")
                if bulkSupport?.generation != generation {
                    let supported = records.contains { $0.params.keys.contains { !$0.hasPrefix("state.") } }
                    bulkSupport = (generation, supported)
                    logger.info("libvirt at \(conn.uri): bulk domain stats \(supported ? "available" : "carry only state; reading domains one by one")")
                }
            case .failed(let error):
                await session.invalidate(after: error)
                if (error as? LibvirtError)?.isDisconnect == true { throw error }
                bulkSupport = (generation, false)
                logger.info("libvirt at \(conn.uri): bulk domain stats unavailable (\(error)); reading domains one by one")
            case .busy:
                bulkMissed = bulkSupport?.supported ?? true
            case .timedOut:
                bulkMissed = bulkSupport?.supported ?? true
                // A stuck call poisons its connection for later calls (and the domains listed on it):
                // continue on a fresh one, looking the domains up there.
                await session.retire(conn)
                conn = try await session.get()
                once.log(logger, .warning, key: "bulk-deadline", "libvirt at \(conn.uri): the stats call for all domains did not return within \(deadline) s (a hung QEMU?); reading domains one by one, each under its own deadline")
            }
        }
        let bulkOK = bulkSupport?.supported == true || bulkMissed
        let plan = DomainPlan(needs: needs, bulkOK: bulkOK, groups: groups, fallback: bulkMissed ? conn : nil)
        // After a missed bulk call the domains share what is left of the cycle's deadline.
        let perDomain = bulkMissed ? max(min(1, deadline / 4), deadline - (Time.monotonic() - started)) : deadline
        let domainConn = conn
        var out: [String: DomainStats] = [:]
        var stuck: [DiscoveredInstance] = []
        // Per-domain inspections on a few libvirt threads, each domain under its own deadline.
        let items = ready.map { di in (key: di.domain.uuid, item: (di, bulk[di.domain.uuid] ?? [:])) }
        let readAt = bulkReadAt
        let outcomes = await gate.runEach(items, lanes: min(parallelism, CallGate.lanes(forDomains: items.count)), seconds: perDomain) { [logger] item in
            try plan.inspect(item.0, record: item.1, readAt: readAt, conn: domainConn, logger: logger)
        }
        for (di, outcome) in zip(ready, outcomes) {
            switch outcome {
            case .value(let s?):
                out[di.instance.id] = s
                if s.jobHeld {
                    await noteBusy(di, cycle: cycle)
                } else if once.clear("stuck/\(di.domain.uuid)") {
                    logger.notice("domain \(di.domain.name) (\(di.domain.uuid)) answers again; polled again")
                }
            case .value(nil):
                break
            case .failed(let error):
                once.log(logger, .warning, key: "failed/\(di.domain.uuid)", "domain \(di.domain.name) (\(di.domain.uuid)): \(error); skipped")
                await cycle.couldNotRead(di.instance.id, because: "\(error)")
            case .timedOut:
                stuck.append(di)
            case .busy(let since):
                await noteStuck(di, since: since, cycle: cycle)
            }
        }
        if !stuck.isEmpty { await session.retire(domainConn) }
        for di in stuck { await noteStuck(di, since: started, cycle: cycle) }
        if needs.contains(.interfaces) { computeDeltas(instances, &out) }
        return out
    }

    /// A domain that did not answer within its deadline: logged once, counted, skipped until it answers.
    private func noteStuck(_ di: DiscoveredInstance, since: Double, cycle: PollCycle) async {
        deadlineMisses += 1
        let waited = Int(Time.monotonic() - since)
        once.log(logger, .error, key: "stuck/\(di.domain.uuid)",
                 "domain \(di.domain.name) (\(di.domain.uuid)) did not answer within \(deadline) s (is its QEMU process hung?); not polled until it answers (\(deadlineMisses) skip(s) so far)")
        await cycle.couldNotRead(di.instance.id, because: "libvirt did not answer for \(max(waited, Int(deadline))) s")
    }

    /// A running domain whose stats came back without what needs its QEMU monitor, because a libvirt
    /// job holds the domain (with NOWAIT, libvirt then reports only what it has): a hung QEMU whose
    /// earlier call still waits, or a long job such as a migration. What libvirt has is published; the
    /// calls that would wait for the job are not made. Logged once; reported in the cycle's problems.
    private func noteBusy(_ di: DiscoveredInstance, cycle: PollCycle) async {
        deadlineMisses += 1
        once.log(logger, .error, key: "stuck/\(di.domain.uuid)",
                 "domain \(di.domain.name) (\(di.domain.uuid)) is held by a libvirt job that does not finish (is its QEMU process hung?); only what libvirt has without its QEMU monitor is reported until it answers (\(deadlineMisses) skip(s) so far)")
        await cycle.couldNotRead(di.instance.id, because: "held by a libvirt job (its QEMU monitor does not answer)")
    }

    /// Domains whose libvirt call missed its deadline and has not returned yet.
    public var stuckDomains: [String] {
        session.gate.busyKeys.keys.filter { $0 != "bulk" && $0 != "open" && $0 != "list" }.sorted()
    }

    private func computeDeltas(_ instances: [DiscoveredInstance], _ stats: inout [String: DomainStats]) {
        for di in instances {
            guard var s = stats[di.instance.id] else { continue }
            var values: [String: Int64] = [:]
            for iface in di.instance.interfaces {
                guard let n = s.interface(iface.name) else { continue }
                for (suffix, cur) in [("rx", n.rxBytes), ("tx", n.txBytes)] {
                    let key = "\(iface.name)/\(suffix)"
                    if let prev = lastBytes[key] { values[key] = cur >= prev ? cur - prev : cur } else { values[key] = 0 }
                    lastBytes[key] = cur
                }
            }
            s.deltas = InterfaceDeltas(values: values)
            stats[di.instance.id] = s
        }
    }
}

/// What to read for one domain, given the enabled meters and whether bulk stats work.
struct DomainPlan: Sendable {
    let needs: InspectionNeeds
    let bulkOK: Bool
    let groups: DomainStatsGroups
    /// Set when the call for all domains missed its deadline: look the domain up on this fresh
    /// connection and read its own stats record there.
    let fallback: LibvirtConnection?

    /// Runs on a libvirt thread. Throws only for a vanished domain.
    func inspect(_ di: DiscoveredInstance, record: [String: TypedValue], readAt: Double, conn: LibvirtConnection, logger: Logger) throws -> DomainStats? {
        var d = di.domain
        var record = record
        var readAt = readAt
        do {
            if let f = fallback {
                d = try f.lookup(uuid: d.uuid)
                record = try f.stats(of: [d], groups: groups).first?.params ?? [:]
                readAt = Date().timeIntervalSince1970
            }
        } catch let e as LibvirtError where e.isNoDomain {
            return nil
        }
        let info: DomainInfo
        if fallback == nil, let known = di.info {
            // Read by this cycle's discovery: not asked twice.
            info = known
            if record.isEmpty { readAt = di.infoReadAt }
        } else {
            do { info = try conn.info(d) } catch let e as LibvirtError where e.isNoDomain {
                logger.debug("domain \(d.uuid) vanished during inspection; skipped")
                return nil
            }
            if record.isEmpty { readAt = Date().timeIntervalSince1970 }
        }
        var s = DomainStats(info: info, bulk: record, polledAt: Time.monotonic(), readAt: readAt)
        let running = info.state != 5
        // NOWAIT and a libvirt job holding the domain: calls that need the job would wait for it.
        s.jobHeld = running && bulkOK && Self.jobHeld(record, groups: groups)
        if s.jobHeld { return s }
        if needs.contains(.memory), running, s.bulk["balloon.current"] == nil {
            s.memory = try? conn.memoryStats(d)
        }
        let haveBlocks = s.bulk["block.count"] != nil
        for disk in di.instance.disks {
            if needs.contains(.blockStats), running, !haveBlocks || !bulkOK, let b = try? conn.blockStats(d, device: disk.device) {
                s.blocks[disk.device] = b
            }
            // Sizes always come from virDomainGetBlockInfo, as in Ceilometer: for a qcow2 in use, bulk
            // stats report the highest written offset as "allocation", not the bytes on disk.
            if needs.contains(.blockInfo), let b = try? conn.blockInfo(d, device: disk.device) { s.blockInfo[disk.device] = b }
        }
        if needs.contains(.interfaces), running, s.bulk["net.count"] == nil || !bulkOK {
            for iface in di.instance.interfaces {
                if let n = try? conn.interfaceStats(d, device: iface.name) { s.interfaces[iface.name] = n }
            }
        }
        return s
    }

    /// A running domain's record lacks what its QEMU monitor provides: block statistics with disks
    /// present, else balloon's resident size with a balloon present.
    static func jobHeld(_ r: [String: TypedValue], groups: DomainStatsGroups) -> Bool {
        if groups.contains(.block), let n = r["block.count"]?.uint64, n > 0 {
            return r["block.0.rd.reqs"] == nil && r["block.0.capacity"] == nil
        }
        if groups.contains(.balloon), r["balloon.current"] != nil {
            return r["balloon.rss"] == nil && r["balloon.last-update"] == nil
        }
        return false
    }
}
