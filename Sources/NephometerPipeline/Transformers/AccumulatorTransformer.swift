import NephometerCore

/// `accumulator`: holds samples and releases them together once `size` are held (size < 1 passes
/// samples through). What is held is released at shutdown too.
final class AccumulatorTransformer: Transformer {
    let size: Int
    var held: [Sample] = []

    init(size: Int) { self.size = size }

    func handle(_ s: inout Sample, now: Double) -> Bool {
        guard size >= 1 else { return true }
        held.append(s)
        return false
    }

    func flush(now: Double, final: Bool) -> [Sample] {
        guard !held.isEmpty, final || held.count >= size else { return [] }
        defer { held.removeAll(keepingCapacity: true) }
        return held
    }
}
