import Logging
import NephometerCore

/// `unit_conversion`: renames, re-units and rescales samples whose unit is the source unit; others pass
/// through unchanged. Unlike Ceilometer it keeps `monotonic_time`, `source` and the user/project names.
final class UnitConversionTransformer: Transformer {
    let converter: Converter
    static let logger = Logger(label: "nephometer.transformer.unit_conversion")

    init(spec: ConversionSpec) { converter = Converter(spec: spec, tag: "unit_conversion") }

    func handle(_ s: inout Sample, now: Double) -> Bool {
        guard converter.applies(to: s) else { return true }
        do {
            converter.derive(&s, volume: try converter.scaled(s, base: s.volume))
            return true
        } catch {
            Self.logger.warning("unit_conversion: dropping \(s.name) of \(s.resourceID): scale failed: \(error)")
            return false
        }
    }
}
