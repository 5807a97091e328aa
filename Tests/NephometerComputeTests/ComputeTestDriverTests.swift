import Foundation
import Logging
import NephometerCompute
import NephometerCore
import Testing
import TestSupport

/// Compute discovery and pollsters against libvirt's real test driver, checked against what libvirt
/// itself reports through `virsh` for the same domains.
@Suite struct ComputeTestDriverTests {
    let dir = TemporaryDirectory()
    let uri: String
    let node: LibvirtTestNode

    init() throws {
        var d0 = LibvirtTestNode.Domain(index: 0)
        d0.imageMeta = true
        d0.interfaces = ["tap00000000-0"]
        var d1 = LibvirtTestNode.Domain(index: 1)
        d1.nova = .v10
        d1.flavorID = nil
        d1.flavor = "m1.large"
        d1.flavorDisk = 40
        d1.flavorEphemeral = 5
        d1.disks = ["vda", "vdb", "vdc"]
        d1.sourcelessDisks = ["hdd"]
        d1.interfaces = ["tap00000001-0", "tap00000001-1", "tap00000001-2"]
        d1.filterRefs = ["tap00000001-1": "nova-instance-instance-00000001-fa163e000101"]
        var d2 = LibvirtTestNode.Domain(index: 2)
        d2.nova = .none
        var d3 = LibvirtTestNode.Domain(index: 3)
        d3.running = false
        d3.disks = []
        var d4 = LibvirtTestNode.Domain(index: 4)
        d4.disks = []
        d4.imageID = nil
        d4.vcpus = 4
        d4.memoryKiB = 4_194_304
        node = LibvirtTestNode(domains: [d0, d1, d2, d3, d4])
        uri = try node.write(to: dir.file("node.xml"))
    }

    func family(reportStopped: Bool = false) -> ComputeFamily {
        ComputeFamily(options: .init(libvirtURI: uri, host: "bench-host", reportStoppedInstanceMetrics: reportStopped),
                      enabled: Set(ComputeFamily.meterNames), logger: Logger(label: "test"))
    }

    func poll(_ family: ComputeFamily) async throws -> [String: [Sample]] {
        let cycle = PollCycle(number: 1)
        let resources = try await family.discoverers[0].discover(parameter: nil, cycle: cycle)
        var out: [String: [Sample]] = [:]
        for p in family.pollsters { out[p.name] = try await p.poll(resources, cycle: cycle) }
        return out
    }

    func virsh(_ args: [String]) throws -> String {
        let r = try Command.run("virsh", ["-c", uri] + args)
        #expect(r.status == 0, "virsh \(args): \(r.stderr)")
        return r.stdout
    }

    /// `key: value` lines of virsh output.
    func fields(_ text: String, separator: Character = ":") -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let i = line.firstIndex(of: separator) else { continue }
            out[line[..<i].trimmingCharacters(in: .whitespaces)] = line[line.index(after: i)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    @Test func discoveryFindsNovaInstancesOnly() async throws {
        let f = family()
        let resources = try await f.discoverers[0].discover(parameter: nil, cycle: PollCycle())
        let ids = resources.map(\.key).sorted()
        #expect(ids == [node.domains[0].uuid, node.domains[1].uuid, node.domains[3].uuid, node.domains[4].uuid])
        #expect(f.discoverers[0].groupID == "bench-host")
        await f.shutdown()
    }

    @Test func metadataHasCeilometersKeysAndValues() async throws {
        let f = family()
        let samples = try await poll(f)
        let cpu = try #require(samples["cpu"]?.first { $0.resourceID == node.domains[0].uuid })
        let m = cpu.resourceMetadata
        #expect(m.keys == ["display_name", "name", "instance_id", "instance_type", "host", "instance_host", "flavor",
                           "status", "state", "task_state", "image", "image_ref", "image_ref_url", "image_meta",
                           "architecture", "os_type", "vcpus", "memory_mb", "disk_gb", "ephemeral_gb", "root_gb", "cpu_number"])
        #expect(m["display_name"] == .string("vm-0"))
        #expect(m["name"] == .string(node.domains[0].name))
        #expect(m["instance_type"] == .string("m1.small"))
        #expect(m["host"] == .string("ad9e70faba14fec3065b1927f6d84df015931bf9ace8c91021d64169"))
        #expect(m["instance_host"] == .string("bench-host"))
        #expect(JSONWriter.string(m["flavor"] ?? .null) == #"{"id": "2", "name": "m1.small", "vcpus": 2, "ram": 2048, "disk": 20, "ephemeral": 0, "swap": 0}"#)
        #expect(m["status"] == .string("active") && m["state"] == .string("running") && m["task_state"] == .string(""))
        #expect(JSONWriter.string(m["image"] ?? .null) == #"{"id": "696d6167-652d-6964-2020-202020202020"}"#)
        #expect(m["image_ref_url"] == .null)
        #expect(JSONWriter.string(m["image_meta"] ?? .null) == #"{"base_image_ref": "696d6167-652d-6964-2020-202020202020", "container_format": "bare", "disk_format": "qcow2", "min_disk": "1", "min_ram": "0", "os_distro": "cirros"}"#)
        #expect(m["architecture"] == .string("x86_64") && m["os_type"] == .string("hvm"))
        #expect(m["root_gb"] == .int(20) && m["cpu_number"] == .int(2))
        #expect(cpu.userID == "75736572-2d69-6420-2020-202020202020" && cpu.projectID == "6f70656e-7374-6163-6b20-70726f6a6563")
        #expect(cpu.source == "openstack")
        // Nova 1.0 metadata without a flavor id: the id falls back to the flavor name.
        let other = try #require(samples["vcpus"]?.first { $0.resourceID == node.domains[1].uuid })
        #expect(other.resourceMetadata["flavor"]?["id"] == .string("m1.large"))
        #expect(other.resourceMetadata["root_gb"] == .int(35))
        #expect(other.resourceMetadata["image_meta"] == nil)
        let noImage = try #require(samples["vcpus"]?.first { $0.resourceID == node.domains[4].uuid })
        #expect(noImage.resourceMetadata["image"] == .null && noImage.resourceMetadata["image_ref"] == .null)
        await f.shutdown()
    }

    @Test func valuesEqualWhatLibvirtReports() async throws {
        let f = family()
        let before = Date().timeIntervalSince1970
        let samples = try await poll(f)
        let after = Date().timeIntervalSince1970
        for d in [node.domains[0], node.domains[1], node.domains[4]] {
            let info = fields(try virsh(["dominfo", d.name]))
            let mem = fields(try virsh(["dommemstat", d.name]), separator: " ")
            let cpu = try #require(samples["cpu"]?.first { $0.resourceID == d.uuid })
            // The test driver's CPU time is the wall clock in ns: bounded by the clock around the poll.
            let cpuSeconds = cpu.volume.doubleValue / 1e9
            #expect(cpuSeconds >= before - 1 && cpuSeconds <= after + 1)
            #expect(cpu.type == .cumulative && cpu.unit == "ns" && cpu.volume.isInteger)
            let vcpus = try #require(samples["vcpus"]?.first { $0.resourceID == d.uuid })
            #expect(vcpus.volume == .int(Int64(info["CPU(s)"] ?? "") ?? -1))
            #expect(vcpus.unit == "vcpu" && vcpus.type == .gauge)
            let usage = try #require(samples["memory.usage"]?.first { $0.resourceID == d.uuid })
            let expected = (Double(mem["available"] ?? "") ?? 0) - (Double(mem["usable"] ?? "") ?? 0)
            #expect(usage.volume == .double(expected / 1024))
            #expect(usage.unit == "MiB" && usage.type == .gauge)
            let power = try #require(samples["power.state"]?.first { $0.resourceID == d.uuid })
            #expect(info["State"] == "running" && power.volume == .int(1) && power.unit == "")
        }
        #expect(samples["vcpus"]?.first { $0.resourceID == node.domains[4].uuid }?.volume == .int(4))
        // Shut-off domains report nothing by default, and non-Nova domains never.
        for name in ["cpu", "vcpus", "memory.usage", "power.state"] {
            #expect(samples[name]?.contains { $0.resourceID == node.domains[3].uuid } == false)
            #expect(samples[name]?.contains { $0.resourceID == node.domains[2].uuid } == false)
            #expect(samples[name]?.count == 3)
        }
        await f.shutdown()
    }

    @Test func stoppedInstancesReportWhatCeilometerReports() async throws {
        let f = family(reportStopped: true)
        let samples = try await poll(f)
        let id = node.domains[3].uuid
        #expect(samples["power.state"]?.first { $0.resourceID == id }?.volume == .int(5))
        #expect(samples["vcpus"]?.first { $0.resourceID == id }?.volume == .int(2))
        #expect(samples["cpu"]?.contains { $0.resourceID == id } == false)
        #expect(samples["memory.usage"]?.contains { $0.resourceID == id } == false)
        let state = samples["power.state"]?.first { $0.resourceID == id }?.resourceMetadata
        #expect(state?["status"] == .string("stopped") && state?["state"] == .string("shutdown"))
        await f.shutdown()
    }

    @Test func unreachableLibvirtIsAnErrorNotACrash() async throws {
        let f = ComputeFamily(options: .init(libvirtURI: "test:///nonexistent/node.xml", host: "h"),
                              enabled: ["cpu"], logger: Logger(label: "test"))
        await #expect(throws: (any Error).self) { try await f.discoverers[0].discover(parameter: nil, cycle: PollCycle()) }
        // Within the backoff window the session answers at once without retrying.
        do {
            _ = try await f.discoverers[0].discover(parameter: nil, cycle: PollCycle())
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("unavailable"))
        }
        await f.shutdown()
    }

    @Test func nodeXMLParserHandlesLibvirtOutput() throws {
        let x = try XMLElement.parse("""
        <?xml version="1.0"?>
        <!-- comment -->
        <domain type='kvm'><name>a &amp; b</name><os><type arch="x86_64">hvm</type></os>
        <devices><disk><source file='/x'/><target dev='vda'/></disk><![CDATA[<raw>]]></devices></domain>
        """)
        #expect(x.name == "domain" && x["type"] == "kvm")
        #expect(x.child("name")?.text == "a & b")
        #expect(x.find("os/type")?["arch"] == "x86_64")
        #expect(x.find("devices/disk/target")?["dev"] == "vda")
        #expect(x.child("devices")?.text.contains("<raw>") == true)
        #expect(throws: XMLElement.ParseError.self) { try XMLElement.parse("<a><b></a>") }
        #expect(throws: XMLElement.ParseError.self) { try XMLElement.parse("<a x='1") }
    }
}
