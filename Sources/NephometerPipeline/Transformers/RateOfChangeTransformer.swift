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

    init(spec: ConversionSpec) { converter = Converter(spec: spec, tag: "rate_of_change") }

    /// What the previous sample of a series says about the current one.
    enum Step { case first, noTime, outOfOrder, sameInstant, rate(dt: Double) }

    static func step(from prev: Previous?, to current: Previous) -> Step {
        guard let prev else { return .first }
        let dt: Double
        if let m0 = prev.monotonic, let m1 = current.monotonic {
            dt = m1 - m0
        } else if let t0 = prev.time, let t1 = current.time {
            dt = t1 - t0
        } else {
            return .noTime
        }
        return dt < 0 ? .outOfOrder : dt == 0 ? .sameInstant : .rate(dt: dt)
    }

    func handle(_ s: inout Sample, now: Double) -> Bool {
        let current = Previous(volume: s.volume.doubleValue, timestamp: s.timestamp, monotonic: s.monotonicTime)
        var step = Step.first
        // One lookup: read the previous sample and keep the current one unless it is out of order or
        // at the same instant.
        let previous = state.exchange(SeriesKey(name: s.name, resourceID: s.resourceID), current, now: now) { prev in
            step = Self.step(from: prev, to: current)
            switch step {
            case .outOfOrder, .sameInstant: return false
            case .first, .noTime, .rate: return true
            }
        }
        let dt: Double
        switch step {
        case .first:
            Self.logger.debug("rate_of_change: first \(s.name) sample of \(s.resourceID); held as the base")
            return false
        case .noTime:
            Self.logger.warning("rate_of_change: \(s.name) of \(s.resourceID) has no usable time; dropped")
            return false
        case .outOfOrder:
            Self.logger.warning("rate_of_change: dropping out-of-order \(s.name) sample of \(s.resourceID)")
            return false
        case .sameInstant:
            Self.logger.debug("rate_of_change: \(s.name) of \(s.resourceID) at the same instant as the previous one; dropped")
            return false
        case .rate(let d):
            dt = d
        }
        guard let prev = previous else { return false }
        guard converter.applies(to: s) else { return true }
        let delta = (prev.volume <= current.volume || s.type != .cumulative) ? current.volume - prev.volume : current.volume
        let rate = delta / dt
        let factor: Number
        do {
            if let p = converter.scaleProgram { factor = try p.number(in: s) }
            else if let f = converter.scaleFactor, f.doubleValue != 0 { factor = f }
            else { factor = .int(1) }
        } catch {
            Self.logger.warning("rate_of_change: dropping \(s.name) of \(s.resourceID): scale failed: \(error)")
            return false
        }
        converter.derive(&s, volume: .double(factor.doubleValue * rate))
        return true
    }

    func prune(now: Double, idleIntervals: Double, defaultInterval: Double) -> Int {
        state.prune(now: now, idleIntervals: idleIntervals, defaultInterval: defaultInterval)
    }
}
