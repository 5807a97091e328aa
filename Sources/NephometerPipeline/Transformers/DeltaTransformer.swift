import Logging
import NephometerCore

/// `delta`: per (meter, resource), the change since the previous sample, as a `delta` sample. The first
/// sample and out-of-order samples are dropped; with `growth_only`, negative deltas are dropped.
final class DeltaTransformer: Transformer {
    struct Previous {
        var volume: Number
        var time: Double?
    }
    let converter: Converter
    let growthOnly: Bool
    var state = StateTable<SeriesKey, Previous>()
    static let logger = Logger(label: "nephometer.transformer.delta")

    init(spec: ConversionSpec, growthOnly: Bool) {
        converter = Converter(spec: spec, tag: "delta")
        self.growthOnly = growthOnly
    }

    func handle(_ s: inout Sample, now: Double) -> Bool {
        let key = SeriesKey(name: s.name, resourceID: s.resourceID)
        let current = Previous(volume: s.volume, time: SampleFields.timestamp(s))
        guard let prev = state[key] else {
            state.set(key, current, now: now)
            return false
        }
        if let t0 = prev.time, let t1 = current.time, t1 < t0 {
            Self.logger.warning("delta: dropping out-of-order \(s.name) sample of \(s.resourceID)")
            return false
        }
        state.set(key, current, now: now)
        let delta: Number
        do { delta = try Arithmetic.apply(.subtract, current.volume, prev.volume) } catch { return false }
        if growthOnly && delta.doubleValue < 0 {
            Self.logger.debug("delta: negative delta of \(s.name) for \(s.resourceID) dropped (growth_only)")
            return false
        }
        let unit = s.unit
        converter.derive(&s, volume: delta, type: .delta)
        s.unit = unit
        return true
    }

    func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int {
        state.prune(now: now, idleIntervals: idleIntervals, defaultInterval: defaultInterval)
    }
}
