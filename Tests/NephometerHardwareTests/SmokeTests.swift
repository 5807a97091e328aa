import Foundation
import Logging
import NephometerCore
@testable import NephometerHardware
import Testing
import TestSupport

@Suite struct SmokeTests {
    @Test func pollsV2cAndV3() async throws {
        let d = try SNMPDaemon()
        let family = HardwareFamily(options: .init(), enabled: Set(HardwareFamily.meterNames), logger: Logger(label: "t"))
        for url in [d.v2cURL, d.v3URL] {
            let cycle = PollCycle()
            var all: [Sample] = []
            for p in family.pollsters {
                all += try await p.poll([PollResource(staticResource: url)], cycle: cycle)
            }
            for s in all { print(s.name, s.resourceID, s.volume, s.resourceMetadata.keys) }
            print(family.hostStatistics)
            #expect(!all.isEmpty)
        }
    }
}
