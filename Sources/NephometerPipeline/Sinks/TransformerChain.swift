import NephometerCore

/// A sink's transformers in order: samples go through them in place; after each batch every
/// transformer is flushed and what it releases goes through the ones after it (Ceilometer's order).
public final class TransformerChain {
    let transformers: [any Transformer]

    public init(_ transformers: [any Transformer]) { self.transformers = transformers }

    /// A batch through the chain, then the flush: what the sink publishes.
    public func process(_ samples: consuming [Sample], now: Double, final: Bool = false) -> [Sample] {
        var out = transform(samples, from: 0, now: now)
        out += flush(now: now, final: final)
        return out
    }

    /// Runs `samples` through transformers `start...` in place, compacting out the dropped ones, then
    /// gives derived samples their ids.
    func transform(_ samples: consuming [Sample], from start: Int, now: Double) -> [Sample] {
        var work = samples
        // Transformer by transformer over the batch: each sees the samples in the same order as one
        // sample at a time through the whole chain would give it, at one lookup per transformer.
        var alive = [Bool](repeating: true, count: work.count)
        for t in transformers.dropFirst(start) {
            for i in work.indices where alive[i] {
                if !t.handle(&work[i], now: now) { alive[i] = false }
            }
        }
        var kept = 0
        for i in work.indices {
            if alive[i] {
                if work[i].pendingDerivation != 0 {
                    work[i].id = MessageID.derived(from: work[i].id, salt: work[i].pendingDerivation)
                    work[i].pendingDerivation = 0
                }
                if kept != i { work.swapAt(kept, i) }
                kept += 1
            }
        }
        work.removeLast(work.count - kept)
        return work
    }

    public func flush(now: Double, final: Bool) -> [Sample] {
        var out: [Sample] = []
        for (i, t) in transformers.enumerated() {
            let released = t.flush(now: now, final: final)
            if !released.isEmpty { out += transform(released, from: i + 1, now: now) }
        }
        return out
    }

    /// Forgets idle series in every transformer; returns how many entries were dropped.
    public func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int {
        transformers.reduce(0) { $0 + $1.prune(now: now, idleIntervals: idleIntervals, defaultInterval: defaultInterval) }
    }
}
