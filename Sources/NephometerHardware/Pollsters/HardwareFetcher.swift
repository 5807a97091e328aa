import Logging
import NephometerCore
import Synchronization

/// Reads each host once per cycle for all hardware pollsters: parses resource URLs (cached), plans
/// the OIDs the enabled meters need, polls through the engine, and builds snapshots.
final class HardwareFetcher: Sendable {
    let engine: SNMPEngine
    let options: HardwareFamily.Options
    let meters: [HardwareMeter]
    let scalars: [OID]
    let tables: [HardwareTable]
    let registry: HostRegistry
    let logger: Logger
    private let targets = Mutex<[String: Result<SNMPTarget, SNMPTargetError>]>([:])
    private let usedKeys = Mutex<Set<String>>([])

    convenience init(engine: SNMPEngine, options: HardwareFamily.Options, meters: [HardwareMeter], logger: Logger) {
        self.init(engine: engine, options: options, meters: meters, registry: HostRegistry(logger: logger), logger: logger)
    }

    /// The same engine, hosts' state and parsed URLs, for other meters (a reload).
    func with(meters: [HardwareMeter]) -> HardwareFetcher {
        let f = HardwareFetcher(engine: engine, options: options, meters: meters, registry: registry, logger: logger)
        f.targets.withLock { $0 = targets.withLock { $0 } }
        f.usedKeys.withLock { $0 = usedKeys.withLock { $0 } }
        return f
    }

    private init(engine: SNMPEngine, options: HardwareFamily.Options, meters: [HardwareMeter], registry: HostRegistry, logger: Logger) {
        self.engine = engine
        self.options = options
        self.meters = meters
        self.logger = logger
        self.registry = registry
        var seen = Set<OID>()
        var list: [OID] = []
        for oid in [HardwareOIDs.sysUpTime] + meters.flatMap(\.scalars) where seen.insert(oid).inserted { list.append(oid) }
        scalars = list
        tables = HardwareTable.allCases.filter { t in meters.contains { $0.tables.contains(t) } }
    }

    /// The parsed target of a resource, or nil (a bad URL is logged once, with its secrets redacted).
    func target(_ r: PollResource) -> SNMPTarget? {
        guard let url = r.value as? String else {
            registry.once.log(logger, .error, key: "url/\(r.key)", "hardware pollsters: resource \(r.key.prefix(8))… is not an snmp:// URL string; skipped")
            return nil
        }
        let parsed = targets.withLock { t in
            if let p = t[url] { return p }
            let p = Result { () throws(SNMPTargetError) -> SNMPTarget in
                try SNMPTarget(url: url, defaults: .init(timeout: options.timeout, retries: options.retries))
            }
            t[url] = p
            return p
        }
        switch parsed {
        case .success(let t): return t
        case .failure(let e):
            registry.once.log(logger, .error, key: "url/\(url)", "\(e); skipped")
            return nil
        }
    }

    /// Snapshots of the given resources for this cycle (hosts already read this cycle are not read again).
    func snapshots(_ resources: [PollResource], cycle: PollCycle) async throws -> [String: HostSnapshot] {
        let shared = try await cycle.cached("hardware.snmp.cycle") { CycleSnapshots() }
        let wanted = resources.compactMap { r in target(r).map { (r.key, $0) } }
        return await shared.get(wanted) { [self] missing in await fetch(missing) }
    }

    private func fetch(_ hosts: [(String, SNMPTarget)]) async -> [String: HostSnapshot] {
        usedKeys.withLock { u in for (k, _) in hosts { u.insert(k) } }
        let states = hosts.map { registry.state($0.0, resource: $0.1.redacted) }
        let requests = zip(hosts, states).map { (host, state) -> HostRequest in
            let (key, target) = host
            let hints = state.inner.withLock { i in tables.map { i.repetitions[$0] ?? 0 } }
            let deadline = options.hostDeadline ?? min(60, target.timeout * Double(target.retries + 1) * 3)
            return HostRequest(key: key, target: target, scalars: scalars, tables: tables.map(\.spec),
                               repetitions: hints, deadline: deadline)
        }
        let outcomes = await poll(requests, down: states.map { s in s.inner.withLock { $0.stats.up == false } })
        var out: [String: HostSnapshot] = [:]
        out.reserveCapacity(hosts.count)
        for ((key, target), (state, outcome)) in zip(hosts, zip(states, outcomes)) {
            registry.record(state, target: target, key: key, outcome: outcome)
            guard case .success(let readings) = outcome.result else { continue }
            out[key] = state.inner.withLock { i in
                if case .timeTicks(let up)? = readings.scalars[HardwareOIDs.sysUpTime] {
                    if let last = i.lastUptime, up < last { i.extender.reset() }
                    i.lastUptime = up
                }
                for (t, rows) in zip(tables, readings.tables) {
                    i.repetitions[t] = min(options.maxRepetitions, max(2, rows.count + 1))
                }
                return HostSnapshot(target: target, readings: readings, tables: tables, extender: &i.extender)
            }
        }
        return out
    }

    /// Polls hosts that answered last cycle (or are new) `maxInFlight` at a time, and hosts that did not
    /// in a lane of their own, all at once: a silent host mostly waits on its timers, and in the shared
    /// window a tenth of the hosts black-holed would hold the answering ones back for
    /// (silent ÷ window) × timeout × attempts. A host of the second lane that answers is read in full.
    private func poll(_ requests: [HostRequest], down: [Bool]) async -> [HostOutcome] {
        let downIndices = down.indices.filter { down[$0] }
        guard !downIndices.isEmpty else { return await engine.poll(requests, window: options.maxInFlight) }
        let upIndices = down.indices.filter { !down[$0] }
        async let up = engine.poll(upIndices.map { requests[$0] }, window: options.maxInFlight)
        async let silent = engine.poll(downIndices.map { requests[$0] }, window: max(options.maxInFlight, downIndices.count))
        let (a, b) = await (up, silent)
        var out = [HostOutcome?](repeating: nil, count: requests.count)
        for (i, o) in zip(upIndices, a) { out[i] = o }
        for (i, o) in zip(downIndices, b) { out[i] = o }
        return out.map { $0 ?? HostOutcome(result: .failure(SNMPFailure(.error, "not polled")), seconds: 0) }
    }

    /// Resource keys this family has polled (closed at shutdown).
    var polledKeys: Set<String> { usedKeys.withLock { $0 } }
}

/// One cycle's snapshots: the first pollster to ask for a host starts its read, later ones wait for it.
final class CycleSnapshots: Sendable {
    private let pending = Mutex<[String: Task<[String: HostSnapshot], Never>]>([:])

    func get(_ hosts: [(String, SNMPTarget)],
             fetch: @escaping @Sendable ([(String, SNMPTarget)]) async -> [String: HostSnapshot]) async -> [String: HostSnapshot] {
        let tasks = pending.withLock { p -> [Task<[String: HostSnapshot], Never>] in
            var found: [Task<[String: HostSnapshot], Never>] = []
            var missing: [(String, SNMPTarget)] = []
            var seen = Set<String>()
            for (k, t) in hosts where seen.insert(k).inserted {
                if let task = p[k] { if !found.contains(task) { found.append(task) } } else { missing.append((k, t)) }
            }
            if !missing.isEmpty {
                let task = Task { await fetch(missing) }
                for (k, _) in missing { p[k] = task }
                found.append(task)
            }
            return found
        }
        if tasks.count == 1, let only = tasks.first { return await only.value }
        var out: [String: HostSnapshot] = [:]
        for t in tasks { out.merge(await t.value) { a, _ in a } }
        return out
    }
}
