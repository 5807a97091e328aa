import DequeModule
import Logging
import Metrics
import NephometerConfig
import NephometerCore
import Synchronization

/// The bounded queue between polling and the pipeline: polling hands batches over without waiting for
/// publishers, so a slow far end never delays a poll. At `maxSamples` the policy decides (config
/// `pipeline.queue_full`): drop the oldest waiting batches (the default: the newest values are the
/// ones worth having), drop the new batch, or make polling wait. Drops are counted
/// (`nephometer_pipeline_queue_dropped_samples_total`) and logged once per episode.
public final class SampleQueue: Sendable {
    public typealias Policy = AgentConfig.QueueFullPolicy

    private struct State {
        var batches = Deque<[Sample]>()
        var samples = 0
        var closed = false
        var consumer: CheckedContinuation<[Sample]?, Never>?
        var producers: [CheckedContinuation<Void, Never>] = []
        var dropped = 0
        var full = false
    }
    private let state = Mutex(State())
    let maxSamples: Int
    let policy: Policy
    let logger: Logger
    private let droppedCounter = Counter(label: "nephometer_pipeline_queue_dropped_samples_total")

    public init(maxSamples: Int, policy: Policy, logger: Logger) {
        self.maxSamples = max(1, maxSamples)
        self.policy = policy
        self.logger = logger
    }

    /// Hands a batch over. Returns at once, except with the `block` policy while the queue is full.
    public func offer(_ batch: [Sample]) async {
        guard !batch.isEmpty else { return }
        while true {
            enum Step { case done, wait, dropped(Int, firstOfEpisode: Bool) }
            let step: Step = state.withLock { s in
                if s.closed { return .dropped(batch.count, firstOfEpisode: false) }
                if s.samples + batch.count > maxSamples, !s.batches.isEmpty {
                    switch policy {
                    case .block:
                        return .wait
                    case .dropNewest:
                        s.dropped += batch.count
                        defer { s.full = true }
                        return .dropped(batch.count, firstOfEpisode: !s.full)
                    case .dropOldest:
                        var n = 0
                        while s.samples + batch.count > maxSamples, let old = s.batches.popFirst() {
                            s.samples -= old.count
                            n += old.count
                        }
                        s.dropped += n
                        let first = !s.full
                        s.full = true
                        s.batches.append(batch)
                        s.samples += batch.count
                        return .dropped(n, firstOfEpisode: first)
                    }
                }
                s.full = false
                s.batches.append(batch)
                s.samples += batch.count
                if let c = s.consumer {
                    s.consumer = nil
                    let b = s.batches.removeFirst()
                    s.samples -= b.count
                    c.resume(returning: b)
                }
                return .done
            }
            switch step {
            case .done:
                return
            case .dropped(let n, let first):
                droppedCounter.increment(by: n)
                if first {
                    logger.error("the pipeline queue is full (\(maxSamples) samples: publishers are slower than polling); \(policy == .dropNewest ? "dropping new batches" : "dropping the oldest waiting batches") and counting them")
                }
                return
            case .wait:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if s.closed || s.samples + batch.count <= maxSamples { return true }
                        s.producers.append(c)
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            }
        }
    }

    /// The next batch; nil once the queue is closed and empty.
    public func next() async -> [Sample]? {
        await withCheckedContinuation { (c: CheckedContinuation<[Sample]?, Never>) in
            let (value, resume, producers) = state.withLock { s -> ([Sample]?, Bool, [CheckedContinuation<Void, Never>]) in
                if let b = s.batches.popFirst() {
                    s.samples -= b.count
                    defer { s.producers = [] }
                    return (b, true, s.producers)
                }
                if s.closed { return (nil, true, []) }
                s.consumer = c
                return (nil, false, [])
            }
            for p in producers { p.resume() }
            if resume { c.resume(returning: value) }
        }
    }

    /// No more batches: the consumer gets what is left, then nil.
    public func close() {
        let (consumer, producers) = state.withLock { s -> (CheckedContinuation<[Sample]?, Never>?, [CheckedContinuation<Void, Never>]) in
            s.closed = true
            defer { s.consumer = nil; s.producers = [] }
            return (s.batches.isEmpty ? s.consumer : nil, s.producers)
        }
        consumer?.resume(returning: nil)
        for p in producers { p.resume() }
    }

    public var depth: (batches: Int, samples: Int) { state.withLock { ($0.batches.count, $0.samples) } }
    public var dropped: Int { state.withLock { $0.dropped } }
}
