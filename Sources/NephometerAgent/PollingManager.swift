import Logging
import NephometerConfig
import NephometerCore

/// Decides which resources this agent polls (all of them, or its share of a group).
public protocol ResourcePartitioner: Sendable {
    /// Keeps the resources this agent owns in `group`.
    func filter(_ resources: [PollResource], group: String) async -> [PollResource]
}

/// Owns the schedule: one task per distinct interval, each running its sources' pollsters, stamping
/// their samples and handing them on in batches.
public final class PollingManager: Sendable {
    /// Where polled samples go (the pipeline, or `poll`'s printer).
    public typealias Consumer = @Sendable ([Sample]) async -> Void
    /// Told when a cycle ends: interval, cycle number, samples, seconds.
    public typealias CycleObserver = @Sendable (Int, Int, Int, Double) async -> Void

    struct Entry: Sendable {
        let source: PollingSource
        let pollster: any Pollster
    }

    let tasksByInterval: [Int: [Entry]]
    let discoverers: [String: any Discoverer]
    let batchSize: Int
    let jitter: Double
    let consumer: Consumer
    let cycleObserver: CycleObserver?
    let partitioner: (any ResourcePartitioner)?
    let groupPrefix: String
    let logger: Logger
    let once = LogOnce()
    let stats = CycleStatistics()

    public init(polling: PollingConfig, families: [any PollsterFamily], batchSize: Int, jitter: Double,
                partitioner: (any ResourcePartitioner)? = nil, groupPrefix: String = "",
                consumer: @escaping Consumer, cycleObserver: CycleObserver? = nil, logger: Logger) {
        var byInterval: [Int: [Entry]] = [:]
        for source in polling.sources {
            for family in families {
                for p in family.pollsters where source.meters.matches(p.name) {
                    byInterval[source.interval, default: []].append(Entry(source: source, pollster: p))
                }
            }
        }
        tasksByInterval = byInterval
        var ds: [String: any Discoverer] = [:]
        for f in families { for d in f.discoverers { ds[d.name] = d } }
        discoverers = ds
        self.batchSize = batchSize
        self.jitter = jitter
        self.consumer = consumer
        self.cycleObserver = cycleObserver
        self.partitioner = partitioner
        self.groupPrefix = groupPrefix
        self.logger = logger
    }

    /// Names of the pollsters that some source selects.
    public var activePollsters: [String] {
        Array(Set(tasksByInterval.values.flatMap { $0.map(\.pollster.name) })).sorted()
    }

    public var intervals: [Int] { tasksByInterval.keys.sorted() }

    /// The partitioning groups this agent's sources use: one per discoverer, one per static list.
    public var partitioningGroups: [String] {
        var groups: Set<String> = []
        for entries in tasksByInterval.values {
            for e in entries {
                if !e.source.resources.isEmpty { groups.insert("\(groupPrefix)-\(StableHash.ofSet(e.source.resources))") }
                var names = e.source.discovery.map { $0.split(separator: ":").first.map(String.init) ?? $0 }
                if names.isEmpty && e.source.resources.isEmpty, let d = e.pollster.defaultDiscovery { names = [d] }
                for n in names { if let g = discoverers[n]?.groupID { groups.insert("\(groupPrefix)-\(g)") } }
            }
        }
        return groups.sorted()
    }

    /// Runs every interval's task once, one after another (for `poll --once`); returns what could
    /// not be read or failed.
    @discardableResult
    public func runOnce() async -> PollCycle.Problems {
        var all = PollCycle.Problems(unreadResources: [:], failures: [])
        for interval in intervals {
            let p = await runCycle(interval: interval, number: 1)
            all.unreadResources.merge(p.unreadResources) { a, _ in a }
            all.failures += p.failures.filter { !all.failures.contains($0) }
        }
        return all
    }

    /// Runs until cancelled. Each interval's first run is offset by a random delay within `jitter` of
    /// the interval; later runs keep a fixed rate (a cycle that overruns skips the missed starts).
    /// With `cycles`, each interval's task stops after that many cycles and `run` returns.
    public func run(cycles: Int? = nil) async {
        await withTaskGroup(of: Void.self) { group in
            for interval in intervals {
                group.addTask { [self] in
                    let offset = jitter > 0 ? Double.random(in: 0..<(jitter * Double(interval))) : 0
                    if offset > 0 {
                        logger.info("polling every \(interval) s; first cycle in \(String(format: "%.1f", offset)) s (jitter)")
                        try? await Task.sleep(for: .milliseconds(Int(offset * 1000)))
                    }
                    var number = 0
                    var ran = 0
                    let start = ContinuousClock.now
                    while !Task.isCancelled {
                        if let cycles, ran >= cycles { break }
                        number += 1
                        ran += 1
                        await runCycle(interval: interval, number: number)
                        let elapsed = ContinuousClock.now - start
                        let periods = Int(elapsed / .seconds(interval)) + 1
                        let next = start + .seconds(interval * periods)
                        if let cycles, ran >= cycles { break }
                        if periods > number {
                            logger.warning("polling cycle of interval \(interval) s overran; skipping \(periods - number) start(s)")
                            number = periods
                        }
                        try? await Task.sleep(until: next, clock: .continuous)
                    }
                }
            }
        }
    }

    /// One cycle of one interval's task; returns what it could not read.
    @discardableResult
    public func runCycle(interval: Int, number: Int) async -> PollCycle.Problems {
        guard let entries = tasksByInterval[interval] else { return PollCycle.Problems(unreadResources: [:], failures: []) }
        let cycle = PollCycle(number: number)
        var history: [String: Set<String>] = [:]
        var sampleCount = 0
        let started = Time.monotonic()
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
            var samples: [Sample]
            do {
                samples = try await pollster.poll(fresh, cycle: cycle)
                once.clear("pollster/\(pollster.name)")
            } catch {
                await cycle.failed("pollster \(pollster.name): \(error)")
                once.log(logger, .error, key: "pollster/\(pollster.name)",
                         "pollster \(pollster.name) failed on \(fresh.count) resource(s) (\(fresh.prefix(3).map(\.key).joined(separator: ", "))\(fresh.count > 3 ? ", …" : "")): \(error); skipped this cycle")
                continue
            }
            // A pollster that knows when it read a value stamps it; the others get the cycle's time.
            for i in samples.indices where samples[i].timestamp == nil { samples[i].timestamp = timestamp }
            sampleCount += samples.count
            await deliver(samples)
        }
        stats.record(interval: interval, samples: sampleCount, seconds: Time.monotonic() - started)
        await cycleObserver?(interval, number, sampleCount, Time.monotonic() - started)
        logger.debug("cycle \(number) of interval \(interval) s: \(sampleCount) samples in \(String(format: "%.3f", Time.monotonic() - started)) s")
        return await cycle.problems
    }

    private func deliver(_ samples: [Sample]) async {
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
        if !source.resources.isEmpty {
            let statics = source.resources.map(PollResource.init(staticResource:))
            if let partitioner {
                out += await partitioner.filter(statics, group: "\(groupPrefix)-\(StableHash.ofSet(source.resources))")
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
        guard let discoverer = discoverers[name] else {
            once.log(logger, .warning, key: "discovery/\(name)", "Unknown discovery extension: \(name)")
            return []
        }
        do {
            let found = try await discoverer.discover(parameter: param, cycle: cycle)
            once.clear("discovery-failed/\(name)")
            if let partitioner, let group = discoverer.groupID {
                return await partitioner.filter(found, group: "\(groupPrefix)-\(group)")
            }
            return found
        } catch {
            await cycle.failed("discovery \(name): \(error)")
            once.log(logger, .error, key: "discovery-failed/\(name)", "discovery \(name) failed: \(error)")
            return []
        }
    }
}

/// Per-interval figures of the last cycle (for logs and, later, self-metrics).
public final class CycleStatistics: Sendable {
    public struct Figures: Sendable {
        public var samples: Int
        public var seconds: Double
    }
    private let last = Mutex<[Int: Figures]>([:])
    func record(interval: Int, samples: Int, seconds: Double) {
        last.withLock { $0[interval] = Figures(samples: samples, seconds: seconds) }
    }
    public func figures(interval: Int) -> Figures? { last.withLock { $0[interval] } }
}

import Foundation
import Synchronization
