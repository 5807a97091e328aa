import Foundation
import NephometerAgent
import NephometerCompute
import NephometerConfig
import NephometerHardware
import Testing
import TestSupport

/// Pollster families own their sections of nephometer.yaml and validate them with positions.
@Suite struct FamilySectionTests {
    let dir = TemporaryDirectory("family-sections")

    func load(_ agent: String) throws -> Result<Blueprint, ConfigErrors> {
        let a = try dir.write("nephometer.yaml", agent)
        let p = try dir.write("polling.yaml", "sources:\n  - {name: c, interval: 60, meters: [cpu, 'hardware.*']}\n")
        let pl = try dir.write("pipeline.yaml", "sources: [{name: s, meters: ['*'], sinks: [k]}]\nsinks: [{name: k, publishers: ['file:///dev/null']}]\n")
        return AgentRuntime.load(agentConfigFile: a, overrides: ConfigOverrides(pollingFile: p, pipelineFile: pl))
    }

    @Test func theComputeAndHardwareSectionsAreTheirFamiliesOptions() throws {
        let b = try load("""
            host: h1
            compute: {libvirt_uri: "test:///default", report_stopped_instance_metrics: yes, domain_deadline: 2.5}
            hardware: {timeout: 0.5, retries: 4, max_in_flight: 200, host_deadline: 9, sample_source: snmp}
            """).get()
        let compute = try #require(b.familyOptions["compute"] as? ComputeFamily.Options)
        #expect(compute.libvirtURI == "test:///default" && compute.reportStoppedInstanceMetrics && compute.domainDeadline == 2.5 && compute.host == "h1")
        let hw = try #require(b.familyOptions["central"] as? HardwareFamily.Options)
        #expect(hw.timeout == 0.5 && hw.retries == 4 && hw.maxInFlight == 200 && hw.hostDeadline == 9 && hw.sampleSource == "snmp")
        #expect(b.enabled("compute") == ["cpu"])
    }

    @Test func badValuesNameFileLineColumnAndKey() throws {
        guard case .failure(let e) = try load("""
            compute:
              report_stopped_instance_metrics: maybe
            hardware:
              timout: 1
              retries: 99
            """) else { Issue.record("accepted"); return }
        let path = dir.file("nephometer.yaml")
        #expect(e.errors.map(\.description) == [
            "\(path):2:36: compute.report_stopped_instance_metrics: expected report_stopped_instance_metrics (true or false), got 'maybe'",
            "\(path):4:3: hardware.timout: unknown key 'timout' (did you mean 'timeout'?); expected one of: sample_source, max_in_flight, max_repetitions, timeout, retries, host_deadline",
            "\(path):5:12: hardware.retries: expected retries between 0 and 20, got 99",
        ])
    }

    @Test func theShippedSampleConfigIsValid() throws {
        let result = AgentRuntime.load(agentConfigFile: Fixtures.root.appendingPathComponent("etc/nephometer.yaml").path,
                                       overrides: ConfigOverrides(pollingFile: Fixtures.root.appendingPathComponent("etc/polling.yaml").path,
                                                                  pipelineFile: Fixtures.root.appendingPathComponent("pipeline.yaml").path))
        let b = try result.get()
        #expect((b.familyOptions["compute"] as? ComputeFamily.Options)?.libvirtURI == "qemu:///system")
    }
}
