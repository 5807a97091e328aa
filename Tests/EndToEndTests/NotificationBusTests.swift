import Foundation
import NephometerCore
import Testing
import TestSupport

/// The drop-in path: a Ceilometer compute node's ceilometer.conf and polling.yaml, unchanged, run
/// `nephometer agent` in place of `ceilometer-polling`; real RabbitMQ and the real
/// `ceilometer-agent-notification` 27.0.0 (its file publisher) receive every polled sample.
@Suite(.serialized) struct NotificationBusTests {
    let dir = TemporaryDirectory("bus")

    /// A compute node's ceilometer.conf: the keys we use among many we ignore.
    func ceilometerConf(transport: String, batchSize: Int, exporterPort: Int) -> String {
        """
        [DEFAULT]
        transport_url = \(transport)
        host = bus-host
        debug = true
        log_dir = /var/log/ceilometer
        hypervisor_inspector = libvirt
        [compute]
        instance_discovery_method = libvirt_metadata
        [publisher]
        telemetry_secret = nephometer-secret
        [polling]
        batch_size = \(batchSize)
        enable_prometheus_exporter = true
        prometheus_listen_addresses = 127.0.0.1:\(exporterPort)
        [oslo_messaging_notifications]
        driver = messagingv2
        topics = notifications
        [oslo_messaging_rabbit]
        amqp_durable_queues = false
        heartbeat_timeout_threshold = 60
        [service_credentials]
        auth_type = password
        auth_url = http://keystone.example:5000/v3
        [keystone_authtoken]
        memcached_servers = 127.0.0.1:11211

        """
    }

    static let polling = """
        ---
        sources:
            - name: some_pollsters
              interval: 2
              meters:
                - cpu
                - memory.usage
                - network.incoming.bytes
                - disk.device.read.bytes

        """

    /// Sample dicts by id.
    func byID(_ lines: [MetadataValue]) -> [String: MetadataValue] {
        var out: [String: MetadataValue] = [:]
        for v in lines { if let id = v["id"]?.stringValue { out[id] = v } }
        return out
    }

    func jsonText(_ v: MetadataValue?) -> String { v.map { JSONWriter.string($0) } ?? "nil" }

    func jsonLinesOf(_ text: String) -> [MetadataValue] { text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) } }

    @Test func theRealNotificationAgentGetsEverySampleAlsoAcrossAnOutageAndASIGKILL() throws {
        let os = try OpenStackEnv(components: ["rabbitmq", "notification"])
        defer { os.stop() }
        let node = try LibvirtTestNode.uniform(count: 3, disks: 1, interfaces: 1).write(to: dir.file("node.xml"))
        let etc = dir.file("etc")
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        let conf = "\(etc)/ceilometer.conf"
        let exporterPort = try FreePort.tcp()
        // Two brokers in the transport URL, the first one dead: oslo's failover to the next host.
        let deadBroker = try FreePort.tcp()
        let failover = os.transportURL.replacingOccurrences(of: "guest:guest@", with: "guest:guest@127.0.0.1:\(deadBroker),guest:guest@")
        try ceilometerConf(transport: failover, batchSize: 5, exporterPort: exporterPort).write(toFile: conf, atomically: true, encoding: .utf8)
        try Self.polling.write(toFile: "\(etc)/polling.yaml", atomically: true, encoding: .utf8)
        let spool = dir.file("spool")
        let common = ["--namespaces", "compute", "--ceilometer-config", conf, "--libvirt-uri", node, "--spool-dir", spool, "--print", "json"]

        // validate reads the same files and names the bus.
        let v = try Command.nephometer(["validate", "--ceilometer-config", conf], directory: etc)
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(v.stdout.contains("notification bus rabbit://guest:***@127.0.0.1:") && v.stdout.contains("routing keys notifications.sample"), "\(v.stdout)")
        #expect(!v.stdout.contains("guest:guest"))

        // 1. Three cycles; every sample arrives with the same fields.
        // Run where no nephometer.yaml is found: ceilometer.conf is the only configuration, as on a compute node.
        let run = try Command.nephometer(["agent"] + common + ["--cycles", "3"], directory: etc, timeout: 90)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let polled = byID(run.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) })
        #expect(polled.count == 3 * (3 + 3 + 3 + 3), "\(run.stderr.suffix(1000))")
        var received: [String: MetadataValue] = [:]
        #expect(eventually(timeout: 40, interval: 0.2) {
            received = byID(jsonLines(os.samplesFile))
            return polled.keys.allSatisfy { received[$0] != nil }
        }, "\(polled.count - polled.keys.filter { received[$0] != nil }.count) of \(polled.count) samples missing")
        for (id, ours) in polled {
            guard let theirs = received[id] else { continue }
            for key in ["name", "type", "unit", "volume", "user_id", "project_id", "resource_id", "timestamp", "resource_metadata", "source"] {
                #expect(jsonText(ours[key]) == jsonText(theirs[key]), "\(id) \(key)")
            }
        }
        let queues = try os.rabbitmqctl(["list_queues", "name", "durable", "messages", "consumers"]).stdout
        #expect(queues.contains("notifications.sample\tfalse\t0\t1"), "\(queues)")

        // A node configured with durable queues meets the cloud's non-durable exchange and queue: the
        // broker's 406 is handled once each (the channel reopened, what exists used), samples still arrive.
        let durableEtc = dir.file("durable")
        try FileManager.default.createDirectory(atPath: durableEtc, withIntermediateDirectories: true)
        let durableConf = "\(durableEtc)/ceilometer.conf"
        try ceilometerConf(transport: os.transportURL, batchSize: 5, exporterPort: try FreePort.tcp())
            .replacingOccurrences(of: "amqp_durable_queues = false", with: "amqp_durable_queues = true")
            .write(toFile: durableConf, atomically: true, encoding: .utf8)
        try Self.polling.write(toFile: "\(durableEtc)/polling.yaml", atomically: true, encoding: .utf8)
        let durable = try Command.nephometer(["agent", "--namespaces", "compute", "--ceilometer-config", durableConf, "--libvirt-uri", node,
                                              "--spool-dir", dir.file("spool-durable"), "--print", "json", "--cycles", "2"], directory: durableEtc, timeout: 90)
        #expect(durable.status == 0, "\(durable.stderr.suffix(2000))")
        #expect(durable.stderr.components(separatedBy: "exists with other settings").count - 1 == 2, "\(durable.stderr.suffix(2000))")
        let durablePolled = byID(jsonLinesOf(durable.stdout))
        #expect(eventually(timeout: 40, interval: 0.2) {
            received = byID(jsonLines(os.samplesFile))
            return !durablePolled.isEmpty && durablePolled.keys.allSatisfy { received[$0] != nil }
        }, "samples of the durable-configured agent missing")

        // 2. The broker stops for several cycles and the agent is SIGKILLed during the outage; a new agent
        //    on the same spool delivers everything once the broker is back.
        let a = try RunningAgent("outage", dir: dir, args: common, directory: etc)
        defer { a.process.stop() }
        let before = received.count
        #expect(eventually(timeout: 20, interval: 0.2) { jsonLines(os.samplesFile).count > before }, "the bus works before the outage")
        // Ceilometer's exporter: what a Prometheus scrape (and promtool) sees equals what was polled.
        let scrape = try Command.run("curl", ["-s", "--max-time", "10", "http://127.0.0.1:\(exporterPort)/metrics"]).stdout
        let check = try Command.run("promtool", ["check", "metrics"], stdin: scrape)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let polledNow = jsonLinesOf(a.process.stdout)
        let cpuSeries = scrape.split(separator: "\n").filter { $0.hasPrefix("ceilometer_cpu{") }
        #expect(cpuSeries.count == 3, "\(scrape.prefix(3000))")
        for line in cpuSeries {
            let labels = String(line[line.index(after: line.firstIndex(of: "{")!)..<line.lastIndex(of: "}")!])
            let resource = labels.range(of: #"resource="[^"]+""#, options: .regularExpression).map { String(labels[$0].dropFirst(10).dropLast()) } ?? ""
            let value = Double(line.split(separator: " ").last ?? "") ?? -1
            let volumes = polledNow.filter { $0["name"]?.stringValue == "cpu" && $0["resource_id"]?.stringValue == resource }
                .compactMap { $0["volume"]?.numberValue?.doubleValue }
            #expect(volumes.contains { abs($0 - value) <= abs($0) * 1e-12 }, "\(line) not among \(volumes)")
            for expected in [#"counter="cpu""#, #"publisher="ceilometer""#, #"type="cpu""#, #"unit="ns""#, #"server_group="none""#,
                             #"flavor_name="m1.small""#, #"cpu="\#(resource)""#, "resource_name=\"", "vm_instance=\"", "project=\"", "user=\""] {
                #expect(labels.contains(expected), "\(expected) missing in \(line)")
            }
        }
        #expect(scrape.contains("# TYPE ceilometer_network_incoming_bytes gauge"))
        #expect(scrape.contains(#"network="bytes""#) && scrape.contains(#"type="incoming""#))

        try os.rabbitmqctl(["stop_app"])
        Thread.sleep(forTimeInterval: 6.5)
        let killedAt = Date().timeIntervalSince1970
        a.process.signal(SIGKILL)
        _ = a.process.wait(timeout: 5)
        let printed = byID(a.process.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) })
        // What was polled at least a second before the kill was handed to the spool (fsync'd) by then.
        let owed = printed.filter { ($0.value["timestamp"]?.stringValue.flatMap(Time.parseISO) ?? .infinity) < killedAt - 1.0 }
        #expect(owed.count >= 3 * 12, "cycles polled during the outage: \(owed.count) samples")
        #expect(a.logged("keeping batches in the spool") == 1, "one line per outage: \(a.process.stderr.suffix(2000))")
        try os.rabbitmqctl(["start_app"])
        let b = try Command.nephometer(["agent"] + common + ["--cycles", "2"], directory: etc, timeout: 120)
        #expect(b.status == 0, "\(b.stderr.suffix(2000))")
        #expect(eventually(timeout: 60, interval: 0.3) {
            received = byID(jsonLines(os.samplesFile))
            return owed.keys.allSatisfy { received[$0] != nil }
        }, "\(owed.keys.filter { received[$0] == nil }.count) of \(owed.count) samples polled during the outage never arrived; \(b.stderr.suffix(1500))")
    }

    /// `rabbit+ssl://` with verification on (the broker's certificate checked against `ssl_ca_file`),
    /// Ceilometer's exporter over HTTPS, and a network path that goes silent: the heartbeat ends the
    /// connection and the next cycle reconnects. Nothing polled is lost in any of it.
    @Test func tlsIsVerifiedAndASilentPathEndsByTheHeartbeat() throws {
        let os = try OpenStackEnv(components: ["rabbitmq", "notification"])
        defer { os.stop() }
        guard let tlsURL = os["rabbitmq", "tls_transport_url"], let ca = os["rabbitmq", "tls_ca_file"],
              let cert = os["rabbitmq", "tls_cert_file"], let key = os["rabbitmq", "tls_key_file"],
              let amqpPort = os.env["rabbitmq"]?["port"]?.numberValue.map({ Int($0.doubleValue) }) else {
            Issue.record("the environment has no TLS listener: \(os.env)")
            return
        }
        let node = try LibvirtTestNode.uniform(count: 2, disks: 1, interfaces: 1).write(to: dir.file("tls-node.xml"))
        let etc = dir.file("tls-etc")
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        try Self.polling.write(toFile: "\(etc)/polling.yaml", atomically: true, encoding: .utf8)
        let spool = dir.file("tls-spool")
        func conf(_ name: String, transport: String, exporterPort: Int, rabbit: String = "", polling: String = "") throws -> String {
            let path = "\(etc)/\(name).conf"
            try ceilometerConf(transport: transport, batchSize: 5, exporterPort: exporterPort)
                .replacingOccurrences(of: "heartbeat_timeout_threshold = 60\n", with: rabbit.isEmpty ? "heartbeat_timeout_threshold = 60\n" : rabbit)
                .replacingOccurrences(of: "[polling]\n", with: "[polling]\n" + polling)
                .write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        func args(_ conf: String) -> [String] { ["--namespaces", "compute", "--ceilometer-config", conf, "--libvirt-uri", node, "--spool-dir", spool, "--print", "json"] }

        // 1. The broker's certificate is not signed by a CA we trust (no ssl_ca_file: the system's
        //    roots): no connection, one warning, the batches kept. The exporter serves HTTPS meanwhile.
        let exporterPort = try FreePort.tcp()
        let untrusted = try conf("untrusted", transport: tlsURL, exporterPort: exporterPort,
                                 polling: "prometheus_tls_enable = true\nprometheus_tls_certfile = \(cert)\nprometheus_tls_keyfile = \(key)\n")
        let a = try RunningAgent("tls-untrusted", dir: dir, args: args(untrusted), directory: etc)
        #expect(eventually(timeout: 30, interval: 0.2) { a.logged("keeping batches in the spool") == 1 }, "\(a.process.stderr.suffix(2000))")
        #expect(a.process.stderr.lowercased().contains("certificate"), "the warning says why: \(a.process.stderr.suffix(2000))")
        var scrape = ""
        #expect(eventually(timeout: 15, interval: 0.3) {
            scrape = (try? Command.run("curl", ["-s", "--max-time", "5", "--cacert", ca, "https://127.0.0.1:\(exporterPort)/metrics"]).stdout) ?? ""
            return scrape.contains("ceilometer_cpu{")
        }, "the exporter over HTTPS: \(scrape.prefix(500))")
        let plain = try Command.run("curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(exporterPort)/metrics"])
        #expect(!plain.stdout.contains("ceilometer_cpu"), "no plain HTTP on a TLS exporter")
        let unverified = try Command.run("curl", ["-s", "--max-time", "5", "https://127.0.0.1:\(exporterPort)/metrics"])
        #expect(unverified.status == 60, "curl without the CA cannot verify the exporter: status \(unverified.status)")
        _ = eventually(timeout: 6) { jsonLinesOf(a.process.stdout).count >= 2 * 12 }
        a.process.stop()
        let untrustedPolled = byID(jsonLinesOf(a.process.stdout))
        #expect(untrustedPolled.count >= 12)
        #expect(!byID(jsonLines(os.samplesFile)).keys.contains { untrustedPolled[$0] != nil }, "nothing went over an unverified connection")

        // 2. With the CA: everything, the spooled batches too, arrives through the TLS listener (the
        //    transport URL names only the TLS port).
        let trusted = try conf("trusted", transport: tlsURL, exporterPort: try FreePort.tcp(),
                               rabbit: "heartbeat_timeout_threshold = 60\nssl_ca_file = \(ca)\n")
        let b = try Command.nephometer(["agent"] + args(trusted) + ["--cycles", "2"], directory: etc, timeout: 90)
        #expect(b.status == 0, "\(b.stderr.suffix(2000))")
        let owed = untrustedPolled.merging(byID(jsonLinesOf(b.stdout))) { x, _ in x }
        var received: [String: MetadataValue] = [:]
        #expect(eventually(timeout: 40, interval: 0.2) {
            received = byID(jsonLines(os.samplesFile))
            return owed.keys.allSatisfy { received[$0] != nil }
        }, "\(owed.keys.filter { received[$0] == nil }.count) of \(owed.count) samples missing; \(b.stderr.suffix(1500))")

        // 3. A path that drops everything without closing: with heartbeat_timeout_threshold 2, the agent
        //    declares the connection dead after 4 s of silence, and the next cycle goes out on a new one.
        let proxy = try FreezableTCPProxy(upstream: amqpPort)
        defer { proxy.stop() }
        try """
            ---
            sources:
                - name: slow
                  interval: 30
                  meters:
                    - cpu

            """.write(toFile: "\(etc)/slow.yaml", atomically: true, encoding: .utf8)
        let silent = try conf("silent", transport: "rabbit://guest:guest@127.0.0.1:\(proxy.port)/", exporterPort: try FreePort.tcp(),
                              rabbit: "heartbeat_timeout_threshold = 2\n", polling: "cfg_file = slow.yaml\n")
        let c = try RunningAgent("heartbeat", dir: dir, args: args(silent), directory: etc)
        defer { c.process.stop() }
        var firstCycle: [String: MetadataValue] = [:]
        #expect(eventually(timeout: 15, interval: 0.2) {
            firstCycle = byID(jsonLinesOf(c.process.stdout))
            return firstCycle.count == 2 && firstCycle.keys.allSatisfy { byID(jsonLines(os.samplesFile))[$0] != nil }
        }, "the first cycle arrives: \(c.process.stderr.suffix(1500))")
        // Idle until 12 s after the first cycle was polled (its samples' timestamp): over five times the
        // heartbeat. Without heartbeats both ways, RabbitMQ would close the connection after two silent
        // intervals (4-6 s) and we would end it after 4 s. Frozen then, the connection's end (4 s later)
        // comes long before the next cycle (30 s after the first).
        let polledAt = firstCycle.values.compactMap { $0["timestamp"]?.stringValue.flatMap(Time.parseISO) }.min() ?? Date().timeIntervalSince1970
        let idle = polledAt + 12 - Date().timeIntervalSince1970
        #expect(idle > 2, "the first cycle took \(12 - idle) s to arrive: too late for the timing below")
        if idle > 0 { Thread.sleep(forTimeInterval: idle) }
        #expect(proxy.connections == 1 && c.logged("connection to RabbitMQ") == 0, "an idle connection survives: \(c.process.stderr.suffix(1500))")
        proxy.freeze()
        #expect(eventually(timeout: 8, interval: 0.1) { c.logged("no data or heartbeat from the broker for 4 s") == 1 },
                "the silent connection is noticed: \(c.process.stderr.suffix(1500))")
        var all: [String: MetadataValue] = [:]
        #expect(eventually(timeout: 30, interval: 0.2) {
            all = byID(jsonLinesOf(c.process.stdout))
            return all.count >= 4 && all.keys.allSatisfy { byID(jsonLines(os.samplesFile))[$0] != nil }
        }, "the next cycle arrives over a new connection: \(c.process.stderr.suffix(1500))")
        #expect(proxy.connections == 2, "one reconnect: \(proxy.connections)")
        #expect(c.logged("connection to RabbitMQ") == 1 && c.logged("keeping batches in the spool") == 0, "\(c.process.stderr.suffix(1500))")
    }
}
