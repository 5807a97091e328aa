import Foundation
import NephometerConfig
import Testing
import TestSupport

@Suite struct ConfigTests {
    @Test func globsFollowPythonFnmatch() {
        #expect(Glob("disk.*").matches("disk.device.read.bytes"))
        #expect(!Glob("disk.*").matches("network.incoming.bytes"))
        #expect(Glob("*.bytes").matches("network.incoming.bytes"))
        #expect(Glob("cpu?").matches("cpu1") && !Glob("cpu?").matches("cpu"))
        #expect(Glob("memory.[ru]*").matches("memory.usage") && Glob("memory.[ru]*").matches("memory.resident"))
        #expect(!Glob("memory.[!ru]*").matches("memory.usage") && Glob("memory.[!ru]*").matches("memory.swap.in"))
        #expect(Glob("[a-c]pu").matches("cpu") && !Glob("[a-b]pu").matches("cpu"))
        #expect(Glob("a[").matches("a["))
        #expect(!Glob("CPU").matches("cpu"))
        #expect(Glob("*").matches(""))
    }

    @Test func meterSelectionDeniesBeforeAllowing() {
        let only = MeterSelector(["cpu", "disk.*"])
        #expect(only.matches("cpu") && only.matches("disk.root.size") && !only.matches("vcpus"))
        let allBut = MeterSelector(["!disk.*", "!network.*"])
        #expect(allBut.matches("cpu") && !allBut.matches("disk.device.read.bytes") && !allBut.matches("network.incoming.bytes"))
        let starBut = MeterSelector(["*", "!cpu"])
        #expect(!starBut.matches("cpu") && starBut.matches("vcpus"))
        // Ceilometer's first-character quirk: "*.bytes" counts as a wildcard entry, so this is valid.
        #expect(MeterSelector.problem(with: ["*.bytes", "!disk.*"]) == nil)
        let q = MeterSelector(["*.bytes", "!disk.*"])
        #expect(q.matches("network.incoming.bytes") && !q.matches("disk.device.read.bytes") && !q.matches("cpu"))
        #expect(MeterSelector.problem(with: ["disk.*", "!disk.read.*"]) != nil)
    }

    @Test(arguments: ["polling-master.yaml", "polling_all-master.yaml", "polling-18.1.0.yaml"])
    func ceilometersShippedPollingFilesLoad(file: String) throws {
        let d = Diagnostics()
        let config = PollingConfig.validate(try ConfigNode.load(file: Fixtures.path("ceilometer-configs/\(file)")), d)
        #expect(d.errors.isEmpty, "\(d.errors)")
        #expect(config?.sources.first?.interval == 300)
    }

    @Test(arguments: ["pipeline-27.0.0.yaml", "pipeline-11.1.0-transformers.yaml"])
    func ceilometersShippedPipelineFilesLoad(file: String) throws {
        let d = Diagnostics()
        let config = PipelineConfig.validate(try ConfigNode.load(file: Fixtures.path("ceilometer-configs/\(file)")), d)
        #expect(d.errors.isEmpty, "\(d.errors)")
        #expect(config?.sinks.first?.publishers.first?.scheme == "gnocchi")
    }

    @Test func pollingSourceFieldsAreRead() throws {
        let yaml = """
        sources:
          - name: hw
            interval: "60"
            meters: ["hardware.*"]
            resources: ["snmp://10.0.0.1", "snmp://10.0.0.2"]
            discovery: ["local_instances"]
        """
        let d = Diagnostics()
        let c = PollingConfig.validate(try ConfigNode.parse(yaml: yaml, file: "p.yaml"), d)
        #expect(d.errors.isEmpty)
        #expect(c?.sources.first?.interval == 60)
        #expect(c?.sources.first?.resources == ["snmp://10.0.0.1", "snmp://10.0.0.2"])
        #expect(c?.sources.first?.discovery == ["local_instances"])
        #expect(c?.sources.first?.meters.matches("hardware.cpu.util") == true)
    }

    @Test func publisherWithoutSchemeSeparatorGetsOne() throws {
        let yaml = "sources:\n  - name: s\n    meters: ['*']\n    sinks: [k]\nsinks:\n  - name: k\n    publishers: [gnocchi]\n"
        let d = Diagnostics()
        let c = PipelineConfig.validate(try ConfigNode.parse(yaml: yaml, file: "x.yaml"), d)
        #expect(c?.sinks[0].publishers[0].url == "gnocchi://")
    }

    @Test func agentConfigPathsResolveAgainstItsDirectory() throws {
        let dir = TemporaryDirectory()
        let path = try dir.write("conf/nephometer.yaml", """
        host: compute-7
        polling: {cfg_file: polling.yaml, batch_size: 0, jitter: 0}
        pipeline: {cfg_file: /etc/pipeline.yaml}
        publisher: {telemetry_secret: ""}
        compute: {libvirt_uri: "test:///default", report_stopped_instance_metrics: yes}
        coordination: {backend_url: "file:///tmp/group"}
        """)
        let d = Diagnostics()
        let c = AgentConfig.validate(try ConfigNode.load(file: path), d, componentSections: ["compute"])
        #expect(d.errors.isEmpty)
        #expect(c?.host == "compute-7")
        #expect(c?.pollingFile == dir.file("conf/polling.yaml"))
        #expect(c?.pipelineFile == "/etc/pipeline.yaml")
        #expect(c?.batchSize == 0 && c?.jitter == 0)
        #expect(c?.telemetrySecret == "")
        // The compute section belongs to the compute family, which validates it (FamilySectionTests).
        #expect(c?.sections["compute"]?["libvirt_uri"]?.scalar == "test:///default")
        #expect(c?.coordinationURL == "file:///tmp/group")
    }

    @Test func shippedSampleConfigIsValid() throws {
        let d = Diagnostics()
        let c = AgentConfig.validate(try ConfigNode.load(file: Fixtures.root.appendingPathComponent("etc/nephometer.yaml").path), d,
                                     componentSections: ["compute", "hardware"])
        #expect(d.errors.isEmpty, "\(d.errors)")
        #expect(c?.batchSize == 50 && c?.jitter == 0.1 && c?.sections["compute"] != nil)
    }
}
