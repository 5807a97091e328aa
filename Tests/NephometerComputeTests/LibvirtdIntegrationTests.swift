import Foundation
import Logging
import NephometerCompute
import NephometerCore
import Synchronization
import Testing
import TestSupport

/// The compute pollsters against a real hypervisor: libvirtd with QEMU under software emulation (TCG)
/// in a private mount namespace (`LibvirtDaemon`), three running tiny domains, one shut off, one
/// without Nova metadata. Bulk stats (`virConnectGetAllDomainStats`) there carry the cpu, balloon,
/// vcpu, net and block groups the test driver lacks. Every sample is checked against
/// `virsh domstats --raw` read right before and right after the poll: counters lie between the two
/// readings, gauges that do not move equal them.
@Suite(.serialized, .libvirtd)
struct LibvirtdIntegrationTests {
    var env: LibvirtdEnvironment {
        get throws { try #require(LibvirtdEnvironment.current, "libvirtd did not start (see the suite's error)") }
    }

    // MARK: The hypervisor and discovery

    @Test func bulkStatsCarryEveryGroupTheMetersNeed() async throws {
        let env = try self.env
        let stats = try await env.daemon.domstats()
        for d in env.running {
            let s = try #require(stats[d.name], "virsh domstats has no record for \(d.name)")
            for key in ["state.state", "cpu.time", "balloon.current", "balloon.rss", "vcpu.current", "vcpu.maximum",
                        "vcpu.0.time", "net.count", "block.count"] {
                #expect(s[key] != nil, "domstats of \(d.name) lacks \(key): the bulk path would have nothing to read")
            }
            #expect(s["net.count"] == "\(d.interfaces.count)" && s["block.count"] == "\(d.disks.count)")
            for tap in d.interfaces { #expect(index(of: tap, in: s, group: "net") != nil, "no net.N for \(tap)") }
            for dev in d.disks { #expect(index(of: dev, in: s, group: "block") != nil, "no block.N for \(dev)") }
            // No OS, so no guest balloon driver: libvirt has no available/usable/unused/swap figures.
            for key in ["balloon.available", "balloon.usable", "balloon.unused", "balloon.swap_in"] {
                #expect(s[key] == nil, "\(d.name) unexpectedly reports \(key)")
            }
        }
        // A shut-off domain has its state, configured sizes and disk sizes (from the image files), but
        // no traffic, vCPU times or resident memory.
        let off = try #require(stats[env.stopped.name])
        #expect(off["state.state"] == "5" && off["block.0.capacity"] == "\(64 << 20)")
        #expect(!off.keys.contains { $0.hasPrefix("net.") || $0.hasPrefix("vcpu.0.") || $0 == "balloon.rss" }, "\(off.keys.sorted())")
        // Perf events are off: the perf group is empty.
        let perf = try await env.daemon.domstats(env.running.map(\.name), options: ["--perf"])
        #expect(perf.values.allSatisfy { $0.keys.allSatisfy { !$0.hasPrefix("perf.") } })
    }

    @Test func discoveryFindsTheNovaDomainsOnly() async throws {
        let env = try self.env
        let family = env.family()
        let resources = try await family.discoverers[0].discover(parameter: nil, cycle: PollCycle(number: 1))
        #expect(Set(resources.map(\.key)) == Set((env.running + [env.stopped]).map(\.uuid)))
        #expect(!resources.contains { $0.key == env.foreign.uuid })
        await family.shutdown()
    }

    // MARK: Instance meters

    @Test func cpuIsTheSumOfVCPUTimeAndWait() async throws {
        let env = try self.env
        let o = try await env.observe()
        for d in env.running {
            let cpu = try #require(o.one("cpu", d.uuid))
            #expect(cpu.type == .cumulative && cpu.unit == "ns" && cpu.volume.isInteger)
            // Ceilometer: Σ over vcpu.maximum of vcpu.N.time + vcpu.N.wait; cpu.time only when that has holes.
            // Σ vcpu time (the guest's CPUs) is well below cpu.time (which adds QEMU's own threads), so
            // this also tells that the value came from bulk stats' vcpu group, not virDomainGetInfo.
            let (lo, hi) = (try cpuTime(o.before[d.name]), try cpuTime(o.after[d.name]))
            #expect(lo <= hi)
            #expect(cpu.volume.doubleValue >= Double(lo) && cpu.volume.doubleValue <= Double(hi),
                    "cpu of \(d.name) = \(cpu.volume) not within Σ vcpu time+wait \(lo)…\(hi) (cpu.time \(o.before[d.name]?["cpu.time"] ?? "?")…\(o.after[d.name]?["cpu.time"] ?? "?"))")
            #expect(cpu.resourceMetadata["cpu_number"] == .int(d.spec.vcpus))
        }
    }

    @Test func vcpusAndPowerState() async throws {
        let env = try self.env
        let o = try await env.observe()
        for d in env.running {
            let vcpus = try #require(o.one("vcpus", d.uuid))
            #expect(vcpus.type == .gauge && vcpus.unit == "vcpu")
            #expect(o.before[d.name]?["vcpu.current"] == "\(d.spec.vcpus)" && o.after[d.name]?["vcpu.current"] == "\(d.spec.vcpus)")
            #expect(vcpus.volume == .int(Int64(d.spec.vcpus)))
            let power = try #require(o.one("power.state", d.uuid))
            #expect(power.type == .gauge && power.unit == "")
            #expect(o.before[d.name]?["state.state"] == "1" && power.volume == .int(1))
            #expect(power.resourceMetadata["status"] == .string("active") && power.resourceMetadata["state"] == .string("running"))
        }
    }

    @Test func memoryAndResidentMemory() async throws {
        let env = try self.env
        let o = try await env.observe()
        for d in env.running {
            let memory = try #require(o.one("memory", d.uuid), "no memory sample for \(d.name)")
            #expect(memory.type == .gauge && memory.unit == "MiB")
            let current = try #require(o.before[d.name]?["balloon.current"].flatMap { Double($0) })
            #expect(o.after[d.name]?["balloon.current"] == o.before[d.name]?["balloon.current"])
            #expect(memory.volume == .double(current / 1024), "memory = balloon.current / 1024 (a float, as Python divides)")
            #expect(memory.volume.doubleValue == Double(d.spec.memoryMiB))

            let resident = try #require(o.one("memory.resident", d.uuid), "no memory.resident sample for \(d.name)")
            #expect(resident.type == .gauge && resident.unit == "MiB" && !resident.volume.isInteger)
            let rss = [o.before[d.name]?["balloon.rss"], o.after[d.name]?["balloon.rss"]].compactMap { $0.flatMap { Double($0) } }
            #expect(rss.count == 2)
            // RSS moves a little between the readings; allow 1 MiB either side of them.
            let lo = (rss.min() ?? 0) / 1024 - 1, hi = (rss.max() ?? 0) / 1024 + 1
            #expect(resident.volume.doubleValue >= lo && resident.volume.doubleValue <= hi,
                    "memory.resident of \(d.name) = \(resident.volume) MiB, balloon.rss/1024 read \(lo + 1)…\(hi - 1)")
        }
    }

    @Test func metersWithoutDataProduceNoSamplesAndNoErrors() async throws {
        let env = try self.env
        let o = try await env.observe()
        #expect(o.errors.isEmpty, "pollsters threw: \(o.errors)")
        // No guest balloon driver: no available/usable/unused/swap figures. Perf events off.
        for meter in ["memory.usage", "memory.available", "memory.swap.in", "memory.swap.out",
                      "perf.cpu.cycles", "perf.instructions", "perf.cache.references", "perf.cache.misses"] {
            #expect(o.samples[meter, default: []].isEmpty, "\(meter) reported \(o.samples[meter, default: []].map(\.volume)) without libvirt data")
        }
        #expect(o.log.messages(.error).isEmpty && o.log.messages(.critical).isEmpty, "errors logged: \(o.log.messages(.error))")
    }

    @Test func flavorDiskSizes() async throws {
        let env = try self.env
        let o = try await env.observe()
        for d in env.running {
            let root = try #require(o.one("disk.root.size", d.uuid), "no disk.root.size for \(d.name)")
            #expect(root.type == .gauge && root.unit == "GiB")
            #expect(root.volume == .int(Int64(d.spec.flavorDisk - d.spec.flavorEphemeral)))
            let eph = try #require(o.one("disk.ephemeral.size", d.uuid), "no disk.ephemeral.size for \(d.name)")
            #expect(eph.type == .gauge && eph.unit == "GiB")
            #expect(eph.volume == .int(Int64(d.spec.flavorEphemeral)))
        }
    }

    // MARK: Disk devices

    @Test func diskDeviceCounters() async throws {
        let env = try self.env
        let o = try await env.observe()
        let meters: [(String, String, String)] = [
            ("disk.device.read.bytes", "rd.bytes", "B"), ("disk.device.read.requests", "rd.reqs", "request"),
            ("disk.device.write.bytes", "wr.bytes", "B"), ("disk.device.write.requests", "wr.reqs", "request"),
            ("disk.device.read.latency", "rd.times", "ns"), ("disk.device.write.latency", "wr.times", "ns"),
        ]
        for (meter, _, _) in meters {
            #expect(o.samples[meter, default: []].count == env.running.reduce(0) { $0 + $1.disks.count },
                    "\(meter): one sample per disk of each running domain")
        }
        for d in env.running {
            for dev in d.disks {
                let id = "\(d.uuid)-\(dev)"
                let n = try #require(index(of: dev, in: o.before[d.name], group: "block"))
                for (meter, field, unit) in meters {
                    let s = try #require(o.one(meter, id), "no \(meter) sample for \(id)")
                    #expect(s.type == .cumulative && s.unit == unit && s.volume.isInteger, "\(meter)")
                    #expect(s.resourceMetadata["disk_name"] == .string(dev))
                    try expectCounter(s, o, d.name, "block.\(n).\(field)")
                }
            }
        }
    }

    @Test func diskDeviceSizesAreCeilometersBlockInfo() async throws {
        let env = try self.env
        let o = try await env.observe()
        for d in env.running {
            for dev in d.disks {
                let id = "\(d.uuid)-\(dev)"
                let n = try #require(index(of: dev, in: o.before[d.name], group: "block"))
                // Ceilometer reads sizes with virDomainGetBlockInfo (`virsh domblkinfo`); for a qcow2 in
                // use bulk stats differ (allocation = highest written offset), so the samples must be
                // domblkinfo's figures. The failure messages show both.
                func blockInfo() async throws -> [String: Int64] {
                    var out: [String: Int64] = [:]
                    for line in try await env.daemon.virsh(["domblkinfo", d.name, dev]).stdout.split(separator: "\n") {
                        let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                        if parts.count == 2, let v = Int64(parts[1]) { out[parts[0]] = v }
                    }
                    return out
                }
                let info = try await blockInfo()
                let capacity = try #require(info["Capacity"]), allocation = try #require(info["Allocation"]), physical = try #require(info["Physical"])
                #expect(capacity == 64 << 20)
                let bulk = "bulk block.\(n).allocation=\(o.before[d.name]?["block.\(n).allocation"] ?? "-") physical=\(o.before[d.name]?["block.\(n).physical"] ?? "-")"
                let cap = try #require(o.one("disk.device.capacity", id), "no disk.device.capacity for \(id)")
                #expect(cap.type == .gauge && cap.unit == "B")
                #expect(cap.volume == .int(max(capacity, physical)))
                let alloc = try #require(o.one("disk.device.allocation", id), "no disk.device.allocation for \(id)")
                #expect(alloc.type == .gauge && alloc.unit == "B")
                #expect(alloc.volume == .int(allocation), "allocation \(alloc.volume): domblkinfo \(info); \(bulk)")
                let usage = try #require(o.one("disk.device.usage", id), "no disk.device.usage for \(id)")
                #expect(usage.type == .gauge && usage.unit == "B")
                #expect(usage.volume == .int(physical), "usage \(usage.volume): domblkinfo \(info); \(bulk)")
                for s in [cap, alloc, usage] { #expect(s.resourceMetadata["disk_name"] == .string(dev)) }
            }
        }
    }

    // MARK: Network interfaces

    static let networkMeters: [(String, String, String)] = [
        ("network.incoming.bytes", "rx.bytes", "B"), ("network.incoming.packets", "rx.pkts", "packet"),
        ("network.incoming.packets.drop", "rx.drop", "packet"), ("network.incoming.packets.error", "rx.errs", "packet"),
        ("network.outgoing.bytes", "tx.bytes", "B"), ("network.outgoing.packets", "tx.pkts", "packet"),
        ("network.outgoing.packets.drop", "tx.drop", "packet"), ("network.outgoing.packets.error", "tx.errs", "packet"),
    ]

    @Test func networkCounters() async throws {
        let env = try self.env
        let o = try await env.observe()
        for (meter, _, _) in Self.networkMeters {
            #expect(o.samples[meter, default: []].count == env.running.reduce(0) { $0 + $1.interfaces.count },
                    "\(meter): one sample per interface of each running domain")
        }
        for d in env.running {
            for (tap, mac) in zip(d.interfaces, d.macs) {
                // No filterref: Ceilometer's id is <libvirt domain name>-<instance uuid>-<tap>.
                let id = "\(d.name)-\(d.uuid)-\(tap)"
                let n = try #require(index(of: tap, in: o.before[d.name], group: "net"))
                for (meter, field, unit) in Self.networkMeters {
                    let s = try #require(o.one(meter, id), "no \(meter) sample for \(id)")
                    #expect(s.type == .cumulative && s.unit == unit && s.volume.isInteger, "\(meter)")
                    let m = s.resourceMetadata
                    #expect(m["name"] == .string(tap) && m["mac"] == .string(mac) && m["vnic_name"] == .string(tap))
                    #expect(m["fref"] == .null && m["instance_id"] == .string(d.uuid))
                    try expectCounter(s, o, d.name, "net.\(n).\(field)")
                }
            }
        }
    }

    @Test func networkDeltasAcrossTwoCyclesAndNoRepeatedWarnings() async throws {
        let env = try self.env
        let log = LogCapture()
        let family = env.family(logger: log.logger)
        let first = try await env.observe(family: family, cycle: 1, log: log)
        let warningsAfterFirst = log.messages(.warning).count + log.messages(.error).count
        // Some traffic between the cycles would do; the host's IPv6 chatter onto the taps may provide it.
        try await Task.sleep(for: .milliseconds(1500))
        let second = try await env.observe(family: family, cycle: 2, log: log)
        await family.shutdown()
        for d in env.running {
            for tap in d.interfaces {
                let id = "\(d.name)-\(d.uuid)-\(tap)"
                for (delta, cumulative) in [("network.incoming.bytes.delta", "network.incoming.bytes"),
                                            ("network.outgoing.bytes.delta", "network.outgoing.bytes")] {
                    let d1 = try #require(first.one(delta, id), "no \(delta) sample for \(id)")
                    #expect(d1.type == .delta && d1.unit == "B")
                    #expect(d1.volume == .int(0), "first poll of a tap: delta 0 (Ceilometer)")
                    let d2 = try #require(second.one(delta, id))
                    let c1 = try #require(first.one(cumulative, id)), c2 = try #require(second.one(cumulative, id))
                    let change = c2.volume.doubleValue - c1.volume.doubleValue
                    #expect(d2.volume.doubleValue == (change >= 0 ? change : c2.volume.doubleValue),
                            "\(delta) of \(id): \(d2.volume), \(cumulative) went \(c1.volume) → \(c2.volume)")
                }
            }
        }
        // "Where libvirt has no data … log once per domain, not every cycle."
        let newWarnings = log.messages(.warning).count + log.messages(.error).count - warningsAfterFirst
        #expect(newWarnings == 0, "the second cycle logged again: \(log.messages(.warning).suffix(newWarnings))")
    }

    // MARK: Domain events

    /// Nova renames an instance by rewriting its metadata element, live and in the config; the domain
    /// keeps running with the same id, so only libvirt's metadata-change event tells discovery to read
    /// it again. The next cycle's samples carry the new name; restoring it is seen the same way.
    @Test func aRenamedInstanceReachesTheNextCycle() async throws {
        let env = try self.env
        let d = env.running[0]
        let ns = NovaMetadata.namespaces[0]
        let original = try await env.daemon.virshChecked(["metadata", d.name, ns]).trimmingCharacters(in: .whitespacesAndNewlines)
        let newName = "\(d.spec.displayName)-renamed"
        let renamed = original.replacingOccurrences(of: ">\(d.spec.displayName)<", with: ">\(newName)<")
        try #require(renamed != original, "the metadata does not hold the display name: \(original)")
        let family = env.family()
        func displayNames(_ o: Observation) -> Set<String> {
            Set(o.samples.values.joined().filter { $0.resourceID.contains(d.uuid) }.map { $0.resourceMetadata["display_name"]?.stringValue ?? "-" })
        }
        func set(_ xml: String, expecting name: String, cycle: Int) async throws {
            let events = family.session.changes.events
            try await env.daemon.virshChecked(["metadata", d.name, ns, "--key", "nova", "--set", xml, "--live", "--config"])
            // The event travels from libvirtd to the agent's event thread on its own.
            let deadline = Date().addingTimeInterval(10)
            while family.session.changes.events == events, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(family.session.changes.events > events, "no domain event arrived within 10 s of the metadata change")
            let o = try await env.observe(family: family, cycle: cycle)
            #expect(displayNames(o) == [name], "cycle \(cycle): display_name of \(d.uuid)'s samples")
            #expect(o.one("cpu", d.uuid) != nil)
        }
        let first = try await env.observe(family: family, cycle: 1)
        #expect(displayNames(first) == [d.spec.displayName])
        do {
            try await set(renamed, expecting: newName, cycle: 2)
            // The other domains' metadata stays as it was.
            let o = try await env.observe(family: family, cycle: 3)
            #expect(displayNames(o) == [newName])
            #expect(o.one("cpu", env.running[1].uuid)?.resourceMetadata["display_name"] == .string(env.running[1].spec.displayName))
        } catch {
            _ = try? await env.daemon.virsh(["metadata", d.name, ns, "--key", "nova", "--set", original, "--live", "--config"])
            await family.shutdown()
            throw error
        }
        try await set(original, expecting: d.spec.displayName, cycle: 4)
        await family.shutdown()
    }

    // MARK: Which domains report

    @Test func onlyRunningNovaDomainsReportAndMetadataIsTheInstances() async throws {
        let env = try self.env
        let o = try await env.observe()
        #expect(o.errors.isEmpty, "pollsters threw: \(o.errors)")
        let all = o.samples.values.flatMap { $0 }
        #expect(!all.isEmpty)
        for s in all {
            let owner = env.running.first { s.resourceID.contains($0.uuid) }
            #expect(owner != nil, "\(s.name) sample for \(s.resourceID), not a running Nova domain")
            guard let d = owner else { continue }
            #expect(s.userID == d.spec.userID && s.projectID == d.spec.projectID)
            let m = s.resourceMetadata
            #expect(m["display_name"] == .string(d.spec.displayName) && m["instance_id"] == .string(d.uuid))
            #expect(m["instance_host"] == .string("test-host") && m["instance_type"] == .string(d.spec.flavorName))
            #expect(m["flavor"]?["id"] == .string(d.spec.flavorID ?? d.spec.flavorName))
            #expect(m["flavor"]?["vcpus"] == .int(d.spec.vcpus) && m["flavor"]?["ram"] == .int(d.spec.memoryMiB))
            #expect(m["root_gb"] == .int(d.spec.flavorDisk - d.spec.flavorEphemeral))
            #expect(m["image_ref"] == (d.spec.imageID.map { .string($0) } ?? .null))
            if !s.name.hasPrefix("network.") { #expect(m["name"] == .string(d.name)) }
        }
        // Shut off (report_stopped_instance_metrics is off by default) or not an instance: nothing.
        #expect(!all.contains { $0.resourceID.contains(env.stopped.uuid) || $0.resourceID.contains(env.foreign.uuid) })
    }

    @Test func stoppedInstancesReportWhenAskedTo() async throws {
        let env = try self.env
        let family = ComputeFamily(options: .init(libvirtURI: env.daemon.uri, host: "test-host", reportStoppedInstanceMetrics: true),
                                   enabled: Set(ComputeFamily.meterNames), logger: Logger(label: "test"))
        let o = try await env.observe(family: family, cycle: 1)
        await family.shutdown()
        let id = env.stopped.uuid
        #expect(o.one("power.state", id)?.volume == .int(5))
        #expect(o.one("vcpus", id)?.volume == .int(Int64(env.stopped.spec.vcpus)))
        #expect(o.one("memory", id)?.volume.doubleValue == Double(env.stopped.spec.memoryMiB),
                "Ceilometer: memory = info()[1] / 1024 for a shut-off domain")
        #expect(o.one("disk.root.size", id)?.volume == .int(Int64(env.stopped.spec.flavorDisk - env.stopped.spec.flavorEphemeral)))
        // Ceilometer also reports the disks' sizes of a shut-off domain; libvirt has them from the image.
        let capacity = o.before[env.stopped.name]?["block.0.capacity"].flatMap { Int64($0) }
        #expect(capacity != nil && o.one("disk.device.capacity", "\(id)-vda")?.volume == capacity.map { .int($0) })
        #expect(o.one("disk.device.usage", "\(id)-vda") != nil && o.one("disk.device.allocation", "\(id)-vda") != nil)
        // Nothing that needs a running domain.
        for meter in ["cpu", "memory.resident", "disk.device.read.bytes", "network.incoming.bytes"] {
            #expect(o.samples[meter, default: []].contains { $0.resourceID.contains(id) } == false, "\(meter) for a shut-off domain")
        }
    }

    // MARK: Helpers

    /// The index N of the `block.N.name` / `net.N.name` entry naming a device.
    func index(of device: String, in stats: [String: String]?, group: String) -> Int? {
        guard let stats, let count = stats["\(group).count"].flatMap({ Int($0) }) else { return nil }
        return (0..<count).first { stats["\(group).\($0).name"] == device }
    }

    /// Ceilometer's CPU time from a domstats record: Σ vcpu.N.time + vcpu.N.wait over vcpu.maximum,
    /// or cpu.time when fewer than vcpu.current vCPUs have both figures.
    func cpuTime(_ s: [String: String]?) throws -> UInt64 {
        let s = try #require(s)
        let maximum = Int(s["vcpu.maximum"] ?? "") ?? 0
        var remaining = Int(s["vcpu.current"] ?? "") ?? 0
        var total: UInt64 = 0
        for n in 0..<maximum {
            if let t = UInt64(s["vcpu.\(n).time"] ?? ""), let w = UInt64(s["vcpu.\(n).wait"] ?? "") {
                total += t + w
                remaining -= 1
            }
        }
        if remaining <= 0 { return total }
        return try #require(UInt64(s["cpu.time"] ?? ""))
    }

    /// A counter sample lies between the values of `field` read before and after the poll.
    func expectCounter(_ s: Sample, _ o: Observation, _ domain: String, _ field: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let lo = try #require(o.before[domain]?[field].flatMap { Double($0) }, "domstats lacks \(field)", sourceLocation: sourceLocation)
        let hi = try #require(o.after[domain]?[field].flatMap { Double($0) }, "domstats lacks \(field)", sourceLocation: sourceLocation)
        #expect(s.volume.doubleValue >= lo && s.volume.doubleValue <= hi,
                "\(s.name) of \(s.resourceID) = \(s.volume), \(field) read \(Int64(lo))…\(Int64(hi))", sourceLocation: sourceLocation)
    }
}

// MARK: - The shared hypervisor

/// One libvirtd and its domains for the whole suite (about 1.5 s to start with QEMU's capabilities
/// cached by an earlier run, 8 s without; 2 s for the domains).
struct LibvirtdEnvironment: Sendable {
    let daemon: LibvirtDaemon
    /// Running Nova instances: 1 vCPU/1 disk/1 tap; 2 vCPUs and an ephemeral disk; 2 disks and 2 taps.
    let running: [LibvirtDaemon.Domain]
    /// A Nova instance that is defined but shut off.
    let stopped: LibvirtDaemon.Domain
    /// A running-capable domain without Nova metadata (defined, shut off): never discovered.
    let foreign: LibvirtDaemon.Domain

    @TaskLocal static var current: LibvirtdEnvironment?

    static func start() async throws -> LibvirtdEnvironment {
        let daemon = try await LibvirtDaemon.start()
        do {
            var a = LibvirtDaemon.DomainSpec(name: "instance-00000001", displayName: "vm-one")
            a.flavorName = "m1.nano"
            var b = LibvirtDaemon.DomainSpec(name: "instance-00000002", displayName: "vm-two")
            b.vcpus = 2
            b.flavorName = "m1.eph"
            b.flavorID = "43"
            b.flavorDisk = 3
            b.flavorEphemeral = 1
            var c = LibvirtDaemon.DomainSpec(name: "instance-00000003", displayName: "vm-three")
            c.disks = 2
            c.interfaces = 2
            c.flavorID = nil
            c.imageID = nil
            var s = LibvirtDaemon.DomainSpec(name: "instance-00000004", displayName: "vm-stopped")
            s.start = false
            var f = LibvirtDaemon.DomainSpec(name: "not-a-nova-instance")
            f.novaMetadata = false
            f.start = false
            var running: [LibvirtDaemon.Domain] = []
            for spec in [a, b, c] { running.append(try await daemon.create(spec)) }
            let stopped = try await daemon.create(s)
            let foreign = try await daemon.create(f)
            return LibvirtdEnvironment(daemon: daemon, running: running, stopped: stopped, foreign: foreign)
        } catch {
            await daemon.shutdown()
            throw error
        }
    }

    func family(logger: Logger = Logger(label: "test")) -> ComputeFamily {
        ComputeFamily(options: .init(libvirtURI: daemon.uri, host: "test-host"), enabled: Set(ComputeFamily.meterNames),
                      logger: logger)
    }

    /// domstats, one poll cycle of every compute pollster through a fresh family, domstats again.
    func observe() async throws -> Observation {
        let log = LogCapture()
        let family = family(logger: log.logger)
        let o = try await observe(family: family, cycle: 1, log: log)
        await family.shutdown()
        return o
    }

    func observe(family: ComputeFamily, cycle number: Int, log: LogCapture = LogCapture()) async throws -> Observation {
        let names = (running + [stopped]).map(\.name)
        let before = try await daemon.domstats(names)
        let cycle = PollCycle(number: number)
        let resources = try await family.discoverers[0].discover(parameter: nil, cycle: cycle)
        var samples: [String: [Sample]] = [:]
        var errors: [String: String] = [:]
        for p in family.pollsters {
            do { samples[p.name, default: []] += try await p.poll(resources, cycle: cycle) } catch { errors[p.name] = "\(error)" }
        }
        let after = try await daemon.domstats(names)
        return Observation(before: before, after: after, samples: samples, errors: errors, log: log)
    }
}

struct Observation {
    let before: [String: [String: String]]
    let after: [String: [String: String]]
    /// By meter name; a meter without a pollster has no entry.
    let samples: [String: [Sample]]
    let errors: [String: String]
    let log: LogCapture

    /// The single sample of a meter for a resource id.
    func one(_ meter: String, _ resourceID: String) -> Sample? {
        let matching = samples[meter, default: []].filter { $0.resourceID == resourceID }
        #expect(matching.count <= 1, "\(meter): \(matching.count) samples for \(resourceID)")
        return matching.first
    }
}

/// Starts the shared libvirtd before the suite's first test and stops it after its last.
struct LibvirtdScope: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let env = try await LibvirtdEnvironment.start()
        do {
            try await LibvirtdEnvironment.$current.withValue(env) { try await function() }
        } catch {
            await env.daemon.shutdown()
            throw error
        }
        await env.daemon.shutdown()
    }
}

extension Trait where Self == LibvirtdScope {
    /// A real libvirtd with QEMU (TCG) and test domains for the suite (`LibvirtdEnvironment.current`).
    static var libvirtd: Self { Self() }
}

/// Keeps every log line (level and message) for assertions.
final class LogCapture: Sendable {
    let lines = Mutex<[(Logger.Level, String)]>([])
    var logger: Logger { Logger(label: "test") { _ in Handler(capture: self) } }
    func messages(_ level: Logger.Level) -> [String] { lines.withLock { $0.filter { $0.0 == level }.map(\.1) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { capture.lines.withLock { $0.append((event.level, "\(event.message)")) } }
    }
}
