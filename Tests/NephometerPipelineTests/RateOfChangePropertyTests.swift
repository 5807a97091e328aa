import Foundation
import NephometerCore
import NephometerPipeline
import PropertyBased
import Testing

/// For any monotone counter series, rate_of_change never reports a negative rate, and the rates
/// integrated over their intervals give back the total growth.
@Suite struct RateOfChangePropertyTests {
    @Test func monotoneCountersGiveNonNegativeRatesThatIntegrateToTheGrowth() async throws {
        await propertyCheck(count: 200, input: Gen.int(in: 0...1_000_000).array(of: 2...50), Gen.int(in: 1...600).array(of: 50)) { increments, steps in
            guard let chain = try? transformers("- name: rate_of_change\n  parameters: {}") else { Issue.record("config"); return }
            var volume: Int64 = 1_000
            var time = 0.0
            var integral = 0.0
            var growth = 0.0
            _ = run(chain, [sample(volume: .int(volume), at: t0, monotonic: time)])
            for (i, inc) in increments.enumerated() {
                let dt = Double(steps[i % steps.count])
                volume += Int64(inc)
                time += dt
                growth += Double(inc)
                let out = run(chain, [sample(volume: .int(volume), at: t0 + time, monotonic: time)])
                #expect(out.count == 1)
                guard let rate = out.first?.volume.doubleValue else { continue }
                #expect(rate >= 0)
                integral += rate * dt
            }
            #expect(abs(integral - growth) <= max(1e-6 * growth, 1e-6))
        }
    }
}
