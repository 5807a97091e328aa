import Foundation
import Logging
import NephometerCompute
import NephometerCore
import Testing
import TestSupport

/// Every compute meter on libvirt's test driver (per-domain path), against `virsh` on the same domains.
@Suite struct AllMetersTestDriverTests {
    let dir = TemporaryDirectory("all-meters")
    let uri: String
    let node: LibvirtTestNode

    init() throws {
        var none = LibvirtTestNode.Domain(index: 0)
        none.disks = []
        none.interfaces = []
        var one = LibvirtTestNode.Domain(index: 1)
        one.disks = ["vda"]
        one.interfaces = ["tap00000001-0"]
        one.flavorEphemeral = 5
        var three = LibvirtTestNode.Domain(index: 2)
        three.disks = ["vda", "vdb", "vdc"]
        three.sourcelessDisks = ["hdc"]
        three.interfaces = ["tap00000002-0", "tap00000002-1", "tap00000002-2"]
        three.filterRefs = ["tap00000002-1": "nova-instance-instance-00000002-fa163e000201"]
        var stopped = LibvirtTestNode.Domain(index: 3)
        stopped.running = false
        stopped.disks = ["vda"]
        stopped.interfaces = ["tap00000003-0"]
        var foreign = LibvirtTestNode.Domain(index: 4)
        foreign.nova = .none
        node = LibvirtTestNode(domains: [none, one, three, stopped, foreign])
        uri = try node.write(to: dir.file("node.xml"))
    }

    func poll(reportStopped: Bool = false, cycles: Int = 1) async throws -> [String: [Sample]] {
        let f = ComputeFamily(options: .init(libvirtURI: uri, host: "h", reportStoppedInstanceMetrics: reportStopped),
                              enabled: Set(ComputeFamily.meterNames), logger: Logger(label: "t"))
        var out: [String: [Sample]] = [:]
        for n in 1...cycles {
            let cycle = PollCycle(number: n)
            let resources = try await f.discoverers[0].discover(parameter: nil, cycle: cycle)
            out = [:]
            for p in f.pollsters { out[p.name] = try await p.poll(resources, cycle: cycle) }
        }
        await f.shutdown()
        return out
    }

    func virsh(_ args: [String]) throws -> [String: String] {
        let r = try Command.run("virsh", ["-c", uri] + args)
        #expect(r.status == 0, "\(args): \(r.stderr)")
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2 { out[String(parts[parts.count - 2])] = String(parts[parts.count - 1]) }
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    @Test func everyMeterHasCeilometersNameTypeAndUnit() async throws {
        let s = try await poll()
        let expected: [String: (SampleType, String)] = [
            "power.state": (.gauge, ""), "cpu": (.cumulative, "ns"), "vcpus": (.gauge, "vcpu"), "memory": (.gauge, "MiB"),
            "memory.available": (.gauge, "MiB"), "memory.usage": (.gauge, "MiB"), "memory.resident": (.gauge, "MiB"),
            "memory.swap.in": (.cumulative, "MiB"), "memory.swap.out": (.cumulative, "MiB"),
            "disk.device.read.bytes": (.cumulative, "B"), "disk.device.read.requests": (.cumulative, "request"),
            "disk.device.write.bytes": (.cumulative, "B"), "disk.device.write.requests": (.cumulative, "request"),
            "disk.device.capacity": (.gauge, "B"), "disk.device.allocation": (.gauge, "B"), "disk.device.usage": (.gauge, "B"),
            "disk.ephemeral.size": (.gauge, "GiB"), "disk.root.size": (.gauge, "GiB"),
            "network.incoming.bytes": (.cumulative, "B"), "network.incoming.packets": (.cumulative, "packet"),
            "network.incoming.packets.drop": (.cumulative, "packet"), "network.incoming.packets.error": (.cumulative, "packet"),
            "network.outgoing.bytes": (.cumulative, "B"), "network.outgoing.packets": (.cumulative, "packet"),
            "network.outgoing.packets.drop": (.cumulative, "packet"), "network.outgoing.packets.error": (.cumulative, "packet"),
            "network.incoming.bytes.delta": (.delta, "B"), "network.outgoing.bytes.delta": (.delta, "B"),
        ]
        for (name, (type, unit)) in expected {
            let samples = try #require(s[name], "\(name)")
            #expect(!samples.isEmpty, "\(name) produced nothing")
            #expect(samples.allSatisfy { $0.type == type && $0.unit == unit }, "\(name)")
        }
        // The test driver has no perf events and no block latency totals: nothing, and no error.
        for name in ["perf.cpu.cycles", "perf.instructions", "perf.cache.references", "perf.cache.misses",
                     "disk.device.read.latency", "disk.device.write.latency"] {
            #expect(s[name]?.isEmpty == true, "\(name)")
        }
        #expect(Set(ComputeFamily.meterNames).count == 34)
    }

    @Test func diskMetersPerDiskWithResourceIDsAndValuesFromLibvirt() async throws {
        let s = try await poll()
        let d = node.domains[2]
        let reads = try #require(s["disk.device.read.bytes"]).filter { $0.resourceMetadata["instance_id"] == .string(d.uuid) }
        #expect(reads.map(\.resourceID).sorted() == ["vda", "vdb", "vdc"].map { "\(d.uuid)-\($0)" })
        #expect(reads.map { $0.resourceMetadata["disk_name"]?.stringValue ?? "" }.sorted() == ["vda", "vdb", "vdc"])
        // The test driver derives block counters from the clock: check against virsh before and after.
        for dev in ["vda", "vdb"] {
            let after = try virsh(["domblkstat", d.name, dev])
            let got = try #require(reads.first { $0.resourceID.hasSuffix(dev) })
            #expect(got.volume.doubleValue <= Double(after["rd_bytes"] ?? "") ?? 0)
            #expect(got.volume.doubleValue > 0)
            let info = try virsh(["domblkinfo", d.name, dev])
            let cap = try #require(s["disk.device.capacity"]?.first { $0.resourceID == "\(d.uuid)-\(dev)" })
            #expect(cap.volume == .int(Int64(info["Capacity:"] ?? info["Capacity"] ?? "") ?? -1) || cap.volume.doubleValue == Double(info["Physical:"] ?? "") ?? -1)
            let alloc = try #require(s["disk.device.allocation"]?.first { $0.resourceID == "\(d.uuid)-\(dev)" })
            #expect(alloc.volume.doubleValue == Double(info["Allocation:"] ?? "") ?? -1)
        }
        // No disks, no disk samples; a disk without a source is not a disk to Ceilometer.
        #expect(s["disk.device.read.bytes"]?.contains { $0.resourceID.hasPrefix(node.domains[0].uuid) } == false)
        #expect(s["disk.device.read.bytes"]?.contains { $0.resourceID.hasSuffix("-hdc") } == false)
    }

    @Test func networkMetersPerInterfaceWithCeilometersIDsAndMetadata() async throws {
        let s = try await poll()
        let d = node.domains[2]
        let rx = try #require(s["network.incoming.bytes"]).filter { $0.resourceMetadata["instance_id"] == .string(d.uuid) }
        #expect(Set(rx.map(\.resourceID)) == ["\(d.name)-\(d.uuid)-tap00000002-0", "nova-instance-instance-00000002-fa163e000201",
                                            "\(d.name)-\(d.uuid)-tap00000002-2"])
        let filtered = try #require(rx.first { $0.resourceID.hasPrefix("nova-instance") })
        let m = filtered.resourceMetadata
        #expect(m["name"] == .string("tap00000002-1"))
        #expect(m["mac"] == .string("fa:16:3e:00:02:01"))
        #expect(m["fref"] == .string("nova-instance-instance-00000002-fa163e000201"))
        #expect(JSONWriter.string(m["parameters"] ?? .null) == #"{"ip": "10.0.0.2", "interfaceid": null, "bridge": null}"#)
        #expect(m["vnic_name"] == .string("nova-instance-instance-00000002-fa163e000201"))
        // Ceilometer's instance keys ("name" replaced in place by the tap), then the interface's own.
        #expect(m.keys.prefix(2) == ["display_name", "name"] && Array(m.keys.suffix(4)) == ["mac", "fref", "parameters", "vnic_name"])
        let plain = try #require(rx.first { $0.resourceID.hasSuffix("tap00000002-0") })
        #expect(plain.resourceMetadata["fref"] == .null && plain.resourceMetadata["vnic_name"] == .string("tap00000002-0"))
        let stats = try virsh(["domifstat", d.name, "tap00000002-0"])
        #expect(plain.volume.doubleValue <= Double(stats["rx_bytes"] ?? "") ?? 0 && plain.volume.doubleValue > 0)
        // Deltas: 0 on the first cycle, then the growth since the previous cycle.
        #expect(s["network.incoming.bytes.delta"]?.allSatisfy { $0.volume == .int(0) } == true)
        let two = try await poll(cycles: 2)
        #expect(two["network.incoming.bytes.delta"]?.contains { $0.volume.doubleValue > 0 } == true)
    }

    @Test func memoryAndSizeMeters() async throws {
        let s = try await poll()
        let d = node.domains[1]
        let mem = try virsh(["dommemstat", d.name])
        func value(_ name: String) -> Number? { s[name]?.first { $0.resourceID == d.uuid }?.volume }
        #expect(value("memory") == .double((Double(mem["actual"] ?? "") ?? 0) / 1024))
        #expect(value("memory.available") == .double((Double(mem["available"] ?? "") ?? 0) / 1024))
        #expect(value("memory.resident") == .double((Double(mem["rss"] ?? "") ?? 0) / 1024))
        #expect(value("memory.swap.in") == .double((Double(mem["swap_in"] ?? "") ?? 0) / 1024))
        #expect(value("disk.ephemeral.size") == .int(5) && value("disk.root.size") == .int(15))
    }

    @Test func shutOffInstancesReportSizesOnlyWhenAsked() async throws {
        let off = node.domains[3].uuid
        let quiet = try await poll()
        #expect(quiet.values.allSatisfy { $0.allSatisfy { !$0.resourceID.hasPrefix(off) } })
        let s = try await poll(reportStopped: true)
        let reported = Set(s.filter { $0.value.contains { $0.resourceID.hasPrefix(off) } }.keys)
        #expect(reported == ["power.state", "vcpus", "memory", "disk.device.capacity", "disk.device.allocation",
                             "disk.device.usage", "disk.ephemeral.size", "disk.root.size"])
        #expect(s["memory"]?.first { $0.resourceID == off }?.volume == .double(2048))
        // Non-Nova domains never report.
        #expect(s.values.allSatisfy { $0.allSatisfy { !$0.resourceID.hasPrefix(node.domains[4].uuid) } })
    }

    @Test func aLostConnectionIsReopenedWithBackoff() async throws {
        let path = dir.file("late.xml")
        let f = ComputeFamily(options: .init(libvirtURI: "test://\(path)", host: "h"), enabled: ["vcpus"], logger: Logger(label: "t"))
        // Unreachable at first (no node file): an error, not a crash.
        await #expect(throws: (any Error).self) { try await f.discoverers[0].discover(parameter: nil, cycle: PollCycle()) }
        _ = try LibvirtTestNode.uniform(count: 2).write(to: path)
        var found: [PollResource] = []
        for _ in 0..<40 where found.isEmpty {
            try await Task.sleep(for: .milliseconds(250))
            found = (try? await f.discoverers[0].discover(parameter: nil, cycle: PollCycle())) ?? []
        }
        #expect(found.count == 2)
        await f.shutdown()
    }
}
