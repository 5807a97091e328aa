import Logging
import NephometerCore

/// `rate_of_change`: per (meter, resource), `scale × Δvolume / Δt`.
///
/// Δt comes from `monotonic_time` when both samples carry it, else from timestamps. The first sample of a
/// series and samples older than their predecessor are dropped; a sample at the same instant as its
/// predecessor is dropped too (Ceilometer emitted a false 0 there). A cumulative counter that went down
/// was reset: the new value is taken as the growth since the reset, as Ceilometer did. A numeric scale
/// multiplies the rate (Ceilometer multiplied it by the raw volume as well); an expression is evaluated
/// over the current sample, as in Ceilometer (`100.0 / (10**9 * (resource_metadata.cpu_number or 1))`).
final class RateOfChangeTransformer: Transformer {
    struct Previous {
        var volume: Double
        /// The timestamp, parsed only when a monotonic time is missing.
        var timestamp: String?
        var monotonic: Double?
        var time: Double? { timestamp.flatMap(Time.parseISO) }
    }
    let converter: Converter
    var state = StateTable<SeriesKey, Previous>()
    static let logger = Logger(label: "nephometer.transformer.rate_of_change")

    init(spec: ConversionSpec) { converter = Converter(spec: spec) }

    func handle(_ s: inout Sample, now: Double) -> Bool {
        let key = SeriesKey(name: s.name, resourceID: s.resourceID)
        let current = Previous(volume: s.volume.doubleValue, timestamp: s.timestamp, monotonic: s.monotonicTime)
        guard let prev = state[key] else {
            state.set(key, current, now: now)
            Self.logger.debug("rate_of_change: first \(s.name) sample of \(s.resourceID); held as the base")
            return false
        }
        let dt: Double
        if let m0 = prev.monotonic, let m1 = current.monotonic {
            dt = m1 - m0
        } else if let t0 = prev.time, let t1 = current.time {
            dt = t1 - t0
        } else {
            state.set(key, current, now: now)
            Self.logger.warning("rate_of_change: \(s.name) of \(s.resourceID) has no usable time; dropped")
            return false
        }
        if dt < 0 {
            Self.logger.warning("rate_of_change: dropping out-of-order \(s.name) sample of \(s.resourceID)")
            return false
        }
        if dt == 0 {
            Self.logger.debug("rate_of_change: \(s.name) of \(s.resourceID) at the same instant as the previous one; dropped")
            return false
        }
        state.set(key, current, now: now)
        guard converter.applies(to: s) else { return true }
        let delta = (prev.volume <= current.volume || s.type != .cumulative) ? current.volume - prev.volume : current.volume
        let rate = delta / dt
        let factor: Number
        do {
            switch converter.spec.scale {
            case nil: factor = .int(1)
            case .factor(let f): factor = f.doubleValue == 0 ? .int(1) : f
            case .expression(let e): factor = try e.number(in: s)
            }
        } catch {
            Self.logger.warning("rate_of_change: dropping \(s.name) of \(s.resourceID): scale failed: \(error)")
            return false
        }
        converter.derive(&s, volume: .double(factor.doubleValue * rate), tag: "rate_of_change")
        return true
    }

    func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int {
        state.prune(now: now, idleIntervals: idleIntervals, defaultInterval: defaultInterval)
    }
}
