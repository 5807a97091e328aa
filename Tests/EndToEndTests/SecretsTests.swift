import Foundation
import NephometerCore
import Testing
import TestSupport

/// Known secrets in every place they can be configured (telemetry secret, SNMP v2c community and v3
/// passwords, HTTP basic auth in publisher URLs, a spooling publisher's credentials), the agent at
/// trace level, a failed reload quoting a bad resource URL, `validate` and `poll --once`: none of them
/// appears in anything written — logs, printed samples, published samples, `/metrics`, `/status`,
/// `/healthz`, the heartbeat socket, spool file names or spool contents.
@Suite(.serialized) struct SecretsTests {
    let dir = TemporaryDirectory("secrets")

    @Test func secretsNeverLeaveTheAgent() throws {
        let telemetry = "tele-SECRET-1a2b", http = "http-SECRET-9z", spool = "spool-SECRET-5q", community = "comm-SECRET-77"
        let snmpd = try SNMPDaemon(community: community)
        defer { snmpd.stop() }
        let amqp = "amqp-SECRET-3c", keystone = "keystone-SECRET-8d"
        let secrets = [telemetry, http, spool, community, snmpd.authPassword, snmpd.privPassword, amqp, keystone]
        let receiver = try ReceiverProcess(dir: dir, name: "receiver", secret: telemetry, udp: false)
        defer { _ = receiver.stop() }
        let dead = try FreePort.tcp()
        let node = try LibvirtTestNode.uniform(count: 2, disks: 1, interfaces: 1).write(to: dir.file("node.xml"))
        let published = dir.file("published.jsonl")
        let spoolDir = dir.file("spool")
        let pollingText = """
            sources:
              - {name: c, interval: 1, meters: [cpu, network.incoming.bytes]}
              - {name: hw, interval: 1, meters: ["hardware.memory.total", "hardware.cpu.load.1min"], resources: ["\(snmpd.v2cURL)", "\(snmpd.v3URL)"]}

            """
        let polling = try dir.write("polling.yaml", pollingText)
        let pipeline = try dir.write("pipeline.yaml", """
            sources: [{name: s, meters: ["*"], sinks: [k]}]
            sinks:
              - name: k
                publishers:
                  - "file://\(published)?json"
                  - "http://metrics:\(http)@127.0.0.1:\(receiver.httpPort ?? 0)/v1/samples"
                  - "https://spooler:\(spool)@127.0.0.1:\(dead)/v1/samples?timeout=1&max_retries=0&verify_ssl=false"
                  - "gnocchi://?timeout=1"

            """)
        let agentFile = try dir.write("agent.yaml", """
            log_level: trace
            publisher: {telemetry_secret: "\(telemetry)", spool_directory: \(spoolDir)}
            polling: {jitter: 0, heartbeat_socket_dir: \(dir.file("hb"))}
            messaging: {transport_url: "rabbit://bus:\(amqp)@127.0.0.1:\(dead)/", timeout: 1}
            service_credentials: {auth_url: "http://127.0.0.1:\(dead)/v3", username: ceilometer, password: "\(keystone)", project_name: service}

            """)
        let common = ["--config", agentFile, "--libvirt-uri", node, "--polling", polling, "--pipeline", pipeline, "--host", "secret-host"]
        let a = try RunningAgent("agent", dir: dir, args: ["--namespaces", "compute,central", "--print", "json"] + common)
        defer { a.process.stop() }
        #expect(eventually(timeout: 30) { receiver.samples.contains { $0["name"]?.stringValue == "hardware.memory.total" } },
                "\(receiver.samples.prefix(2)) \(receiver.process.stderr.suffix(1000))")
        #expect(eventually(timeout: 30) { ((try? a.metric(#"nephometer_publisher_spool_writes_total{publisher="https://spooler:***@127.0.0.1:\#(dead)/v1/samples?timeout=1&max_retries=0&verify_ssl=false"}"#)) ?? nil ?? 0) > 0 },
                "\((try? a.get("/metrics").body) ?? "")")
        // A resource URL with credentials that cannot be used (logged at poll time), then a reload that
        // fails on a publisher URL with credentials (logged with its position).
        try dir.write("polling.yaml", pollingText.replacingOccurrences(of: "auth_proto=sha", with: "auth_proto=sha999"))
        #expect(a.reload() == true)
        #expect(eventually(timeout: 10) { a.process.stderr.contains("sha999") }, "the unusable URL is reported")
        try dir.write("polling.yaml", pollingText)
        #expect(a.reload() == true)
        let pipelineText = try String(contentsOfFile: pipeline, encoding: .utf8)
        try dir.write("pipeline.yaml", pipelineText.replacingOccurrences(of: "/v1/samples\"", with: "/v1/samples?timeout=abc\""))
        #expect(a.reload() == false)
        #expect(a.process.stderr.contains("\(pipeline):6:"), "the bad URL's position")
        try dir.write("pipeline.yaml", pipelineText)
        #expect(a.reload() == true)
        let pages = try ["/metrics", "/status", "/healthz"].map { try a.get($0).body }
        let beats = try Command.run("python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.recv(65536).decode())",
                                                "\(dir.file("hb"))/ceilometer-central-compute.socket"])
        a.process.signal(SIGTERM)
        #expect(a.process.wait(timeout: 20) == 0)

        // validate and poll --once with the same files, bad URL included.
        try dir.write("bad-pipeline.yaml", pipelineText.replacingOccurrences(of: "/v1/samples\"", with: "/v1/samples?timeout=abc\""))
        let validate = try Command.nephometer(["validate", "--config", agentFile, "--polling", polling, "--pipeline", dir.file("bad-pipeline.yaml")])
        #expect(validate.status != 0 && (validate.stdout + validate.stderr).contains("timeout"), "\(validate.stdout) \(validate.stderr)")
        let once = try Command.nephometer(["poll", "--once", "--namespaces", "compute,central", "--format", "json"] + common)

        let spoolFiles = FileManager.default.subpaths(atPath: spoolDir) ?? []
        #expect(!spoolFiles.isEmpty, "the dead https publisher spooled")
        let spoolBytes = spoolFiles.compactMap { FileManager.default.contents(atPath: "\(spoolDir)/\($0)") }
            .map { String(decoding: $0, as: UTF8.self) }.joined()
        let written: [(String, String)] = [
            ("agent stderr", a.process.stderr), ("agent stdout", a.process.stdout),
            ("published samples", (try? String(contentsOfFile: published, encoding: .utf8)) ?? ""),
            ("received samples", (try? String(contentsOfFile: receiver.output, encoding: .utf8)) ?? ""),
            ("/metrics", pages[0]), ("/status", pages[1]), ("/healthz", pages[2]), ("heartbeat socket", beats.stdout + beats.stderr),
            ("spool file names", spoolFiles.joined(separator: "\n")), ("spool contents", spoolBytes),
            ("validate", validate.stdout + validate.stderr), ("poll --once", once.stdout + once.stderr),
        ]
        #expect(a.process.stderr.contains(" trace nephometer: ") && a.process.stderr.contains("SNMP host polled"), "the agent ran at trace level")
        #expect(a.process.stderr.contains("reload failed"))
        #expect(pages[1].contains("secret-host") && !beats.stdout.isEmpty)
        for (place, text) in written {
            #expect(!text.isEmpty, "\(place) is empty; nothing checked")
            for s in secrets { #expect(!text.contains(s), "\(s) leaked into \(place)") }
        }
    }
}
