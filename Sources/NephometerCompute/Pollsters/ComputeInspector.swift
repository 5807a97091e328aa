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
    let needs: InspectionNeeds
    let deadline: Double
    let parallelism: Int
    let logger: Logger
    private let once = LogOnce()

    private var cycleID: UInt64?
    private var current: [String: DomainStats] = [:]
    /// Per connection generation: does bulk stats return more than state?
    private var bulkSupport: (generation: Int, supported: Bool)?
    /// Previous rx/tx bytes per tap device, for the byte-delta meters.
    private var lastBytes: [String: Int64] = [:]
    /// Domains skipped because they missed their deadline, since start.
    public private(set) var deadlineMisses = 0

    public init(session: LibvirtSession, needs: InspectionNeeds, deadline: Double = 10, parallelism: Int = 8, logger: Logger) {
        self.session = session
        self.needs = needs
        self.deadline = deadline
        self.parallelism = max(1, parallelism)
        self.logger = logger
    }

    /// Stats for the given instances in this cycle (inspected on first request, then served from memory).
    /// Domains that vanished, failed or missed their deadline are absent from the result.
    public func stats(for instances: [DiscoveredInstance], cycle: PollCycle) async throws -> [String: DomainStats] {
        if cycleID != cycle.id {
            cycleID = cycle.id
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
        if groups != [.state] && (bulkSupport?.generation != generation || bulkSupport?.supported == true) {
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
        let plan = DomainPlan(needs: needs, bulkOK: bulkOK)
        var out: [String: DomainStats] = [:]
        var missed: [String] = []
        // A sliding window of per-domain inspections, each racing its own deadline.
        await withTaskGroup(of: (String, DomainStats?, Bool).self) { group in
            var next = 0
            func add() {
                guard next < instances.count else { return }
                let di = instances[next]
                next += 1
                let record = bulk[di.domain.uuid] ?? [:]
                group.addTask { [deadline, logger] in
                    let result = await withDeadline(seconds: deadline) {
                        try await conn.run { try plan.inspect(di, record: record, conn: conn, logger: logger) }
                    }
                    switch result {
                    case .value(let s): return (di.instance.id, s, false)
                    case .timedOut: return (di.instance.id, nil, true)
                    }
                }
            }
            for _ in 0..<parallelism { add() }
            while let (id, stats, timedOut) = await group.next() {
                if let stats { out[id] = stats; once.clear("deadline/\(id)") }
                if timedOut { missed.append(id) }
                add()
            }
        }
        for id in missed {
            deadlineMisses += 1
            once.log(logger, .warning, key: "deadline/\(id)", "domain \(id) did not answer within \(deadline) s; skipped this cycle (\(deadlineMisses) skip(s) so far)")
        }
        if needs.contains(.interfaces) { computeDeltas(instances, &out) }
        return out
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

    /// Runs on a libvirt thread. Throws only for a vanished domain.
    func inspect(_ di: DiscoveredInstance, record: [String: TypedValue], conn: LibvirtConnection, logger: Logger) throws -> DomainStats? {
        let d = di.domain
        let info: DomainInfo
        do { info = try conn.info(d) } catch let e as LibvirtError where e.isNoDomain {
            logger.debug("domain \(d.uuid) vanished during inspection; skipped")
            return nil
        }
        var s = DomainStats(info: info, bulk: record, polledAt: Time.monotonic())
        let running = info.state != 5
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
}

/// The outcome of an operation raced against a deadline.
enum DeadlineResult<T: Sendable>: Sendable {
    case value(T)
    case timedOut
}

/// Runs `operation` and returns its value, or `.timedOut` after `seconds` — without waiting for an
/// operation that is stuck in a blocking call (it finishes on its own thread and is ignored).
func withDeadline<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T?) async -> DeadlineResult<T?> {
    await withCheckedContinuation { (c: CheckedContinuation<DeadlineResult<T?>, Never>) in
        let gate = ResumeOnce(c)
        let timer = Task {
            do { try await Task.sleep(for: .milliseconds(Int(seconds * 1000))) } catch { return }
            gate.resume(.timedOut)
        }
        Task {
            let v = try? await operation()
            timer.cancel()
            gate.resume(.value(v ?? nil))
        }
    }
}

/// Resumes a continuation with whichever result comes first.
final class ResumeOnce<T: Sendable>: Sendable {
    private let state: Mutex<CheckedContinuation<T, Never>?>
    init(_ c: CheckedContinuation<T, Never>) { state = Mutex(c) }
    func resume(_ value: T) {
        let c = state.withLock { s -> CheckedContinuation<T, Never>? in
            defer { s = nil }
            return s
        }
        c?.resume(returning: value)
    }
}
