import Foundation

/// SNMP polling cost per host per cycle (placeholder until the SNMP engine lands).
enum SNMPBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        print("snmp benchmark: not implemented yet")
    }
}
