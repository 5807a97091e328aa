import Foundation
import NephometerCore
import Testing
import TestSupport

/// The `gnocchi://` publisher against real Gnocchi 4.7.1 (PostgreSQL indexer, file storage) with
/// Keystone auth against a real Keystone (catalog lookup of the `metric` service), the resource
/// types created by Ceilometer 27's `ceilometer-upgrade`; read back through Gnocchi's REST API.
@Suite(.serialized) struct GnocchiTests {
    let dir = TemporaryDirectory("gnocchi")

    /// GET from the basic-mode API (same indexer and storage as the keystone-mode one).
    func get(_ os: OpenStackEnv, _ path: String) throws -> MetadataValue? {
        let base = os.env["gnocchi"]?["basic"]?["url"]?.stringValue ?? ""
        let r = try Command.run("curl", ["-s", "--max-time", "20", "-H", "Authorization: Basic YWRtaW46", base + path])
        return try? JSONParser.parse(r.stdout)
    }

    /// A resource by the id we sent: Gnocchi maps ids that are not UUIDs to UUIDv5s of the writer, so a
    /// reader with other credentials finds them by `original_resource_id`.
    func resource(_ os: OpenStackEnv, _ type: String, _ original: String) throws -> MetadataValue? {
        guard case .array(let all)? = try get(os, "/v1/resource/\(type)") else { return nil }
        return all.first { $0["original_resource_id"]?.stringValue == original }
    }

    /// Sum of `count` and max of `max` over the measures of a metric.
    func measures(_ os: OpenStackEnv, _ type: String, _ id: String, _ metric: String) throws -> (count: Double, max: Double) {
        func values(_ agg: String) throws -> [Double] {
            guard case .array(let rows)? = try get(os, "/v1/resource/\(type)/\(id)/metric/\(metric)/measures?refresh=true&aggregation=\(agg)") else { return [] }
            return rows.compactMap { if case .array(let r) = $0, r.count == 3 { return r[2].numberValue?.doubleValue }; return nil }
        }
        return (try values("count").reduce(0, +), try values("max").max() ?? -1)
    }

    @Test func measuresAndResourcesLandAsPolledRenamesArePatchedAndHardwareSamplesLandToo() throws {
        let os = try OpenStackEnv(components: ["keystone", "gnocchi", "notification"])
        defer { os.stop() }
        let ks = try #require(os.env["keystone"])
        let user = try #require(ks["service_users"]?["ceilometer"])
        let agentYAML = try dir.write("nephometer.yaml", """
            service_credentials:
              auth_type: password
              auth_url: \(ks["auth_url"]?.stringValue ?? "")
              username: \(user["username"]?.stringValue ?? "")
              password: \(user["password"]?.stringValue ?? "")
              project_name: service
              user_domain_name: Default
              project_domain_name: Default
              interface: public
            publisher: {spool_directory: \(dir.file("spool"))}

            """)
        let pipeline = try dir.write("pipeline.yaml", "sources:\n  - {name: s, meters: ['*'], sinks: [g]}\nsinks:\n  - {name: g, publishers: ['gnocchi://?archive_policy=low&filter_project=service']}\n")
        let polling = try dir.write("polling.yaml", "sources:\n  - {name: c, interval: 2, meters: [cpu, memory.usage, network.incoming.bytes, disk.device.read.bytes]}\n")
        var node = LibvirtTestNode.uniform(count: 2, disks: 1, interfaces: 1)
        let uri = try node.write(to: dir.file("node.xml"))
        let args = ["--namespaces", "compute", "--config", agentYAML, "--polling", polling, "--pipeline", pipeline, "--libvirt-uri", uri, "--print", "json"]
        let run = try Command.nephometer(["agent"] + args + ["--cycles", "2"], timeout: 120)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let polled = run.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        #expect(polled.count == 2 * 2 * 4)
        #expect(!run.stderr.contains("gnocchi: HTTP"), "\(run.stderr.suffix(2000))")

        for sample in polled where sample["name"]?.stringValue == "cpu" {
            let id = try #require(sample["resource_id"]?.stringValue)
            let r = try #require(try get(os, "/v1/resource/instance/\(id)"), "instance \(id)")
            let meta = sample["resource_metadata"]
            #expect(r["display_name"] == meta?["display_name"], "\(r)")
            #expect(r["flavor_name"]?.stringValue == "m1.small")
            #expect(r["host"] == meta?["instance_host"])
            #expect(r["project_id"] == sample["project_id"] && r["user_id"] == sample["user_id"])
            let cpu = polled.filter { $0["name"]?.stringValue == "cpu" && $0["resource_id"]?.stringValue == id }.compactMap { $0["volume"]?.numberValue?.doubleValue }
            let m = try measures(os, "instance", id, "cpu")
            #expect(m.count == Double(cpu.count) && m.max == cpu.max(), "cpu measures \(m) vs polled \(cpu)")
        }
        for sample in polled where sample["name"]?.stringValue == "network.incoming.bytes" {
            let id = try #require(sample["resource_id"]?.stringValue)
            let listed = try get(os, "/v1/resource/instance_network_interface") ?? .null
            let r = try #require(try resource(os, "instance_network_interface", id), "\(listed)")
            #expect(r["name"] == sample["resource_metadata"]?["vnic_name"] && r["instance_id"] == sample["resource_metadata"]?["instance_id"], "\(r)")
        }

        // Renamed instance: its next samples carry the new name, and Gnocchi gets the PATCH.
        node.domains[0].displayName = "renamed-vm"
        _ = try node.write(to: dir.file("node.xml"))
        let again = try Command.nephometer(["agent"] + args + ["--cycles", "1"], timeout: 120)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        let renamedID = try #require(jsonLinesOf(again.stdout).first { $0["resource_metadata"]?["display_name"]?.stringValue == "renamed-vm" }?["resource_id"]?.stringValue)
        #expect(try get(os, "/v1/resource/instance/\(renamedID)")?["display_name"]?.stringValue == "renamed-vm")

        // The central agent's hardware.* samples land in the host, host_disk and host_network_interface types.
        let snmpd = try SNMPDaemon()
        defer { snmpd.stop() }
        let central = try dir.write("central.yaml", "sources:\n  - {name: h, interval: 60, meters: [hardware.memory.total, hardware.network.incoming.bytes], resources: ['\(snmpd.v2cURL)']}\n")
        let poll = try Command.nephometer(["poll", "--namespaces", "central", "--once", "--publish", "--format", "json",
                                           "--config", agentYAML, "--polling", central, "--pipeline", pipeline], timeout: 120)
        #expect(poll.status == 0, "\(poll.stderr.suffix(2000))")
        let host = try #require(try resource(os, "host", "127.0.0.1"), "\(poll.stderr.suffix(1500))")
        #expect((host["host_name"]?.stringValue ?? "").hasPrefix("snmp://127.0.0.1:\(snmpd.port)"), "\(host)")
        let total = jsonLinesOf(poll.stdout).first { $0["name"]?.stringValue == "hardware.memory.total" }?["volume"]?.numberValue?.doubleValue
        #expect(try measures(os, "host", host["id"]?.stringValue ?? "", "hardware.memory.total").max == total)
        let nic = try #require(jsonLinesOf(poll.stdout).first { $0["name"]?.stringValue == "hardware.network.incoming.bytes" }?["resource_id"]?.stringValue)
        let nics = try get(os, "/v1/resource/host_network_interface") ?? .null
        #expect(try resource(os, "host_network_interface", nic)?["device_name"] != nil, "\(nics)")
    }

    func jsonLinesOf(_ text: String) -> [MetadataValue] { text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) } }
}
