import Foundation
import Logging
import Metrics
import NephometerConfig
import NephometerCore
import Synchronization

/// Decides which resources this agent polls (all of them, or its share of a group).
public protocol ResourcePartitioner: Sendable {
    /// Keeps the resources this agent owns in `group`.
    func filter(_ resources: [PollResource], group: String) async -> [PollResource]
}

/// Owns the schedule: one loop per distinct interval, each running its sources' pollsters, stamping
/// their samples and handing them on in batches.
///
/// The plan (which pollsters run at which interval) can be replaced while the loops run: an interval
/// that stays keeps its loop, and so its schedule and phase; a new interval gets a loop with its first
/// cycle offset by the jitter; a removed one's loop ends at its next wake-up.
public final class PollingManager: Sendable {
    /// Where polled samples go (the pipeline's queue, or `poll`'s printer).
    public typealias Consumer = @Sendable ([Sample]) async -> Void
    /// Told when a cycle ends: interval, cycle number, samples, seconds.
    public typealias CycleObserver = @Sendable (Int, Int, Int, Double) async -> Void

    struct Entry: Sendable {
        let source: PollingSource
        let pollster: any Pollster
    }

    struct Plan: Sendable {
        var tasksByInterval: [Int: [Entry]]
        var discoverers: [String: any Discoverer]
        var batchSize: Int
        var jitter: Double
    }

    private let plan: Mutex<Plan>
    let consumer: Consumer
    let cycleObserver: CycleObserver?
    let partitioner: (any ResourcePartitioner)?
    let groupPrefix: Mutex<String>
    let logger: Logger
    let once = LogOnce()
    public let statistics = CycleStatistics()
    private let stopSignal = StopSignal()
    /// Intervals whose loop runs, and a way to start loops for new ones while `run` runs.
    private let loops = Mutex<(running: Set<Int>, add: AsyncStream<Int>.Continuation?)>(([], nil))

    public init(polling: PollingConfig, families: [any PollsterFamily], batchSize: Int, jitter: Double,
                partitioner: (any ResourcePartitioner)? = nil, groupPrefix: String = "",
                consumer: @escaping Consumer, cycleObserver: CycleObserver? = nil, logger: Logger) {
        plan = Mutex(Self.plan(polling: polling, families: families, batchSize: batchSize, jitter: jitter))
        self.consumer = consumer
        self.cycleObserver = cycleObserver
        self.partitioner = partitioner
        self.groupPrefix = Mutex(groupPrefix)
        self.logger = logger
    }

    static func plan(polling: PollingConfig, families: [any PollsterFamily], batchSize: Int, jitter: Double) -> Plan {
        var byInterval: [Int: [Entry]] = [:]
        for source in polling.sources {
            for family in families {
                for p in family.pollsters where source.meters.matches(p.name) {
                    byInterval[source.interval, default: []].append(Entry(source: source, pollster: p))
                }
            }
        }
        var ds: [String: any Discoverer] = [:]
        for f in families { for d in f.discoverers { ds[d.name] = d } }
        return Plan(tasksByInterval: byInterval, discoverers: ds, batchSize: batchSize, jitter: jitter)
    }

    /// Replaces the plan (a reload). Intervals that remain keep their loops and phase.
    public func reconfigure(polling: PollingConfig, families: [any PollsterFamily], batchSize: Int, jitter: Double, groupPrefix: String) {
        let new = Self.plan(polling: polling, families: families, batchSize: batchSize, jitter: jitter)
        plan.withLock { $0 = new }
        self.groupPrefix.withLock { $0 = groupPrefix }
        let added = loops.withLock { l -> [Int] in
            let fresh = new.tasksByInterval.keys.filter { !l.running.contains($0) }
            if let add = l.add { for i in fresh { add.yield(i) } }
            return fresh
        }
        if !added.isEmpty { logger.info("new polling interval(s): \(added.sorted().map { "\($0) s" }.joined(separator: ", "))") }
    }

    /// Names of the pollsters that some source selects.
    public var activePollsters: [String] {
        Array(Set(plan.withLock { $0.tasksByInterval.values.flatMap { $0.map(\.pollster.name) } })).sorted()
    }

    public var intervals: [Int] { plan.withLock { $0.tasksByInterval.keys.sorted() } }

    /// The partitioning groups this agent's sources use: one per discoverer, one per static list.
    public var partitioningGroups: [String] {
        let p = plan.withLock { $0 }
        let prefix = groupPrefix.withLock { $0 }
        var groups: Set<String> = []
        for entries in p.tasksByInterval.values {
            for e in entries {
                if !e.source.resources.isEmpty { groups.insert("\(prefix)-\(StableHash.ofSet(e.source.resources))") }
                var names = e.source.discovery.map { $0.split(separator: ":").first.map(String.init) ?? $0 }
                if names.isEmpty && e.source.resources.isEmpty, let d = e.pollster.defaultDiscovery { names = [d] }
                for n in names { if let g = p.discoverers[n]?.groupID { groups.insert("\(prefix)-\(g)") } }
            }
        }
        return groups.sorted()
    }

    /// Runs every interval's task once, one after another (for `poll --once`); returns what could
    /// not be read or failed.
    @discardableResult
    public func runOnce() async -> PollCycle.Problems {
        var all = PollCycle.Problems()
        for interval in intervals {
            let p = await runCycle(interval: interval, number: 1)
            all.unreadResources.merge(p.unreadResources) { a, _ in a }
            all.failures += p.failures.filter { !all.failures.contains($0) }
        }
        return all
    }

    /// Stops starting cycles; a running cycle finishes, and `run` returns once it has.
    public func stopScheduling() { stopSignal.stop() }

    /// Runs until `stopScheduling` (or cancellation). Each interval's first run is offset by a random
    /// delay within `jitter` of the interval; later runs keep a fixed rate (a cycle that overruns
    /// skips the missed starts). With `cycles`, each interval stops after that many cycles.
    public func run(cycles: Int? = nil) async {
        let (stream, add) = AsyncStream<Int>.makeStream()
        let initial = loops.withLock { l -> [Int] in
            l.add = add
            return plan.withLock { Array($0.tasksByInterval.keys) }
        }
        for i in initial { add.yield(i) }
        await withDiscardingTaskGroup { group in
            // When scheduling stops no new loop starts; the stream ends so the group can finish.
            group.addTask { [stopSignal] in
                await stopSignal.wait()
                add.finish()
            }
            var live = 0
            for await interval in stream {
                guard loops.withLock({ $0.running.insert(interval).inserted }) else { continue }
                live += 1
                group.addTask { [self] in
                    await loop(interval: interval, cycles: cycles)
                    let remaining = loops.withLock { l -> Int in
                        l.running.remove(interval)
                        return l.running.count
                    }
                    if cycles != nil, remaining == 0 { stopSignal.stop() }
                }
            }
        }
        loops.withLock { $0.add = nil }
    }

    private func loop(interval: Int, cycles: Int?) async {
        let jitter = plan.withLock { $0.jitter }
        let offset = jitter > 0 ? Double.random(in: 0..<(jitter * Double(interval))) : 0
        if offset > 0 {
            logger.info("polling every \(interval) s; first cycle in \(String(format: "%.1f", offset)) s (jitter)")
            guard await stopSignal.sleep(until: .now + .seconds(clamping: offset)) else { return }
        }
        var number = 0
        var ran = 0
        let start = ContinuousClock.now
        while !Task.isCancelled, !stopSignal.isStopped {
            // An interval that a reload removed ends here.
            guard plan.withLock({ $0.tasksByInterval[interval] != nil }) else { return }
            if let cycles, ran >= cycles { break }
            number += 1
            ran += 1
            await runCycle(interval: interval, number: number)
            if let cycles, ran >= cycles { break }
            let elapsed = ContinuousClock.now - start
            let periods = Int(elapsed / .seconds(interval)) + 1
            if periods > number {
                logger.warning("polling cycle of interval \(interval) s overran; skipping \(periods - number) start(s)")
                number = periods
            }
            guard await stopSignal.sleep(until: start + .seconds(interval) * periods) else { return }
        }
    }

    /// One cycle of one interval's task; returns what it could not read.
    @discardableResult
    public func runCycle(interval: Int, number: Int) async -> PollCycle.Problems {
        let (entries, batchSize) = plan.withLock { ($0.tasksByInterval[interval], $0.batchSize) }
        guard let entries else { return PollCycle.Problems() }
        let cycle = PollCycle(number: number)
        var history: [String: Set<String>] = [:]
        var sampleCount = 0
        var errors = 0
        let started = Time.monotonic()
        statistics.started(interval: interval, at: Date().timeIntervalSince1970)
        for entry in entries {
            let pollster = entry.pollster
            let resources = await resources(for: entry, cycle: cycle)
            var seen = history[pollster.name, default: []]
            let fresh = resources.filter { seen.insert($0.key).inserted }
            history[pollster.name] = seen
            guard !fresh.isEmpty else {
                logger.debug("skip pollster \(pollster.name) of source \(entry.source.name): no resources")
                continue
            }
            let timestamp = Time.isoTimestamp()
            statistics.pollsterStarted(pollster.name, at: timestamp)
            var samples: [Sample]
            let pollStart = Time.monotonic()
            do {
                samples = try await pollster.poll(fresh, cycle: cycle)
                once.clear("pollster/\(pollster.name)")
            } catch {
                errors += 1
                Counter(label: "nephometer_pollster_errors_total", dimensions: [("pollster", pollster.name)]).increment()
                await cycle.failed("pollster \(pollster.name): \(error)")
                once.log(logger, .error, key: "pollster/\(pollster.name)",
                         "pollster \(pollster.name) failed on \(fresh.count) resource(s) (\(fresh.prefix(3).map(\.key).joined(separator: ", "))\(fresh.count > 3 ? ", …" : "")): \(error); skipped this cycle",
                         metadata: ["pollster": "\(pollster.name)"])
                continue
            }
            Timer(label: "nephometer_pollster_duration_seconds", dimensions: [("pollster", pollster.name)], preferredDisplayUnit: .seconds)
                .recordSeconds(Time.monotonic() - pollStart)
            Counter(label: "nephometer_pollster_samples_total", dimensions: [("pollster", pollster.name)]).increment(by: samples.count)
            // A pollster that knows when it read a value stamps it; the others get the cycle's time.
            for i in samples.indices where samples[i].timestamp == nil { samples[i].timestamp = timestamp }
            sampleCount += samples.count
            await deliver(samples, batchSize: batchSize)
        }
        let seconds = Time.monotonic() - started
        let problems = await cycle.problems
        statistics.record(interval: interval, samples: sampleCount, errors: errors + problems.unreadResources.count,
                          seconds: seconds, at: Date().timeIntervalSince1970)
        await cycleObserver?(interval, number, sampleCount, seconds)
        logger.debug("cycle \(number) of interval \(interval) s: \(sampleCount) samples in \(String(format: "%.3f", seconds)) s")
        return problems
    }

    private func deliver(_ samples: [Sample], batchSize: Int) async {
        guard !samples.isEmpty else { return }
        if batchSize <= 0 {
            for s in samples { await consumer([s]) }
            return
        }
        var i = 0
        while i < samples.count {
            let end = min(i + batchSize, samples.count)
            await consumer(Array(samples[i..<end]))
            i = end
        }
    }

    /// Static resources plus the source's discovery, else the pollster's default discovery; filtered to
    /// this agent's share when partitioning.
    func resources(for entry: Entry, cycle: PollCycle) async -> [PollResource] {
        var out: [PollResource] = []
        let source = entry.source
        let prefix = groupPrefix.withLock { $0 }
        if !source.resources.isEmpty {
            let statics = source.resources.map(PollResource.init(staticResource:))
            if let partitioner {
                out += await partitioner.filter(statics, group: "\(prefix)-\(StableHash.ofSet(source.resources))")
            } else {
                out += statics
            }
        }
        for d in source.discovery { out += await discover(d, cycle: cycle) }
        if out.isEmpty, source.resources.isEmpty, source.discovery.isEmpty, let def = entry.pollster.defaultDiscovery {
            out = await discover(def, cycle: cycle)
        }
        return out
    }

    func discover(_ url: String, cycle: PollCycle) async -> [PollResource] {
        // Ceilometer: "name:param" → discoverer `name` with parameter `param`.
        let parts = url.split(separator: ":", maxSplits: 1).map(String.init)
        let name = parts.first ?? url
        let param = parts.count > 1 ? parts[1].replacingOccurrences(of: "//", with: "") : nil
        guard let discoverer = plan.withLock({ $0.discoverers[name] }) else {
            once.log(logger, .warning, key: "discovery/\(name)", "Unknown discovery extension: \(name)")
            return []
        }
        do {
            let found = try await discoverer.discover(parameter: param, cycle: cycle)
            once.clear("discovery-failed/\(name)")
            if let partitioner, let group = discoverer.groupID {
                return await partitioner.filter(found, group: "\(groupPrefix.withLock { $0 })-\(group)")
            }
            return found
        } catch {
            await cycle.failed("discovery \(name): \(error)")
            once.log(logger, .error, key: "discovery-failed/\(name)", "discovery \(name) failed: \(error)")
            return []
        }
    }
}

/// What the schedule did: per interval the last cycle, per pollster when it last started (for logs,
/// `/healthz`, `/status` and Ceilometer's heartbeat socket).
public final class CycleStatistics: Sendable {
    public struct Figures: Sendable {
        public var samples: Int
        public var errors: Int
        public var seconds: Double
        /// Wall-clock seconds when the cycle ended.
        public var finishedAt: Double
        public var cycles: Int
    }
    private let last = Mutex<[Int: Figures]>([:])
    private let running = Mutex<[Int: Double]>([:])
    private let pollsters = Mutex<[String: String]>([:])
    /// Wall-clock seconds when the schedule was created.
    public let since = Date().timeIntervalSince1970

    func started(interval: Int, at t: Double) { running.withLock { $0[interval] = t } }
    func pollsterStarted(_ name: String, at timestamp: String) { pollsters.withLock { $0[name] = timestamp } }
    func record(interval: Int, samples: Int, errors: Int, seconds: Double, at t: Double) {
        _ = running.withLock { $0.removeValue(forKey: interval) }
        last.withLock {
            let n = ($0[interval]?.cycles ?? 0) + 1
            $0[interval] = Figures(samples: samples, errors: errors, seconds: seconds, finishedAt: t, cycles: n)
        }
    }
    public func figures(interval: Int) -> Figures? { last.withLock { $0[interval] } }
    public var all: [Int: Figures] { last.withLock { $0 } }
    /// Cycles running now, with their start (wall-clock seconds).
    public var inProgress: [Int: Double] { running.withLock { $0 } }
    /// When each pollster's last poll started (ISO timestamps), Ceilometer's heartbeat lines.
    public var pollsterStarts: [String: String] { pollsters.withLock { $0 } }
}
