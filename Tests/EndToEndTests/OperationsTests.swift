import Foundation
import NephometerCore
import Testing
import TestSupport

/// The agent as a daemon operators run: `/metrics` (checked by promtool, values equal to what the run
/// produced), `/healthz`, `/status` in a real headless browser, Ceilometer's heartbeat socket, the
/// bounded queue between polling and publishing, graceful and forced stops.
@Suite(.serialized) struct OperationsTests {
    let dir = TemporaryDirectory("operations")

    func files(domains: Int, interval: Int, publishers: [String], polling pollingKeys: String = "", publisher publisherKeys: String = "",
               config: String = "") throws -> [String] {
        let uri = try LibvirtTestNode.uniform(count: domains, disks: 1, interfaces: 1).write(to: dir.file("node-\(domains).xml"))
        let polling = try dir.write("polling-\(interval).yaml", "sources:\n  - {name: c, interval: \(interval), meters: [cpu, memory.usage]}\n")
        let pipeline = try dir.write("pipeline-\(UUID().uuidString.prefix(6)).yaml", """
            sources: [{name: s, meters: ["*"], sinks: [k]}]
            sinks: [{name: k, publishers: [\(publishers.map { "\"\($0)\"" }.joined(separator: ", "))]}]
            """)
        let agent = try dir.write("agent-\(UUID().uuidString.prefix(6)).yaml", "polling: {jitter: 0\(pollingKeys)}\n"
            + "publisher: {spool_directory: \(dir.file("spool-\(UUID().uuidString.prefix(6))"))\(publisherKeys)}\n" + config)
        return ["--namespaces", "compute", "--config", agent, "--libvirt-uri", uri, "--polling", polling, "--pipeline", pipeline, "--host", "ops-host"]
    }

    @Test func metricsHealthStatusAndTheHeartbeatSocket() throws {
        let out = dir.file("ops-samples.jsonl")
        let heartbeat = dir.file("heartbeat")
        let group = dir.file("group")
        // One cycle (a 60 s interval, no jitter), then nothing: the counters must equal the file.
        let a = try RunningAgent("ops", dir: dir, args: try files(domains: 4, interval: 60, publishers: ["file://\(out)"],
                                                             polling: ", heartbeat_socket_dir: \(heartbeat)")
                          + ["--coordination-url", "file://\(group)"])
        defer { a.process.stop() }
        #expect(eventually(timeout: 20) { jsonLines(out).count == 8 }, "\(a.process.stderr.suffix(2000))")
        Thread.sleep(forTimeInterval: 0.5)
        let metrics = try a.get("/metrics")
        #expect(metrics.status == 200)
        // Prometheus' own linter.
        let lint = try Command.run("promtool", ["check", "metrics"], stdin: metrics.body)
        #expect(lint.status == 0 && lint.stdout.isEmpty && lint.stderr.isEmpty, "promtool: \(lint.stdout) \(lint.stderr)")
        let cpu = jsonLines(out).filter { $0["name"]?.stringValue == "cpu" }.count
        #expect(try a.metric(#"nephometer_pollster_samples_total{pollster="cpu"}"#) == Double(cpu))
        #expect(try a.metric(#"nephometer_pollster_samples_total{pollster="memory.usage"}"#) == 4)
        #expect(try a.metric(#"nephometer_cycles_total{interval="60"}"#) == 1)
        #expect(try a.metric(#"nephometer_cycle_last_samples{interval="60"}"#) == 8)
        #expect(try a.metric(#"nephometer_ring_members{group="compute-ops-host"}"#) == 1)
        #expect(try a.metric(#"nephometer_ring_owned_resources{group="compute-ops-host"}"#) == 4)
        #expect(try a.metric("nephometer_libvirt_connected") == 1)
        #expect(try a.metric(#"nephometer_build_info{version="0.3.0"}"#) == 1)
        // Healthy: the cycle finished within two intervals, no spool above its mark.
        let health = try a.get("/healthz")
        #expect(health.status == 200 && health.body == "ok\n")
        // Ceilometer's heartbeat socket: a line per pollster with when its last poll started.
        let socketPath = "\(heartbeat)/ceilometer-compute.socket"
        let hb = try Command.run("python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.recv(65536).decode(), end='')", socketPath])
        let beats = hb.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(beats.map { String($0[0]) }.sorted() == ["cpu", "memory.usage"], "\(hb.stdout) \(hb.stderr)")
        #expect(beats.allSatisfy { $0.count == 2 && Time.parseISO(String($0[1])) != nil })
        // The status page in a real browser: the DOM names this agent's member id, its group and counts.
        let memberID = try #require(try a.get("/status").body.range(of: #"<code id="member-id">([^<]+)</code>"#, options: .regularExpression)
            .map { String(try a.get("/status").body[$0]).replacingOccurrences(of: #"<[^>]+>"#, with: "", options: .regularExpression) })
        let artifacts = Fixtures.root.appendingPathComponent(".build/test-artifacts").path
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let url = "http://127.0.0.1:\(a.port)/status"
        let browser = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir.file("chromium"))"]
        let dom = try Command.run("chromium", browser + ["--dump-dom", url], timeout: 90)
        #expect(dom.status == 0, "\(dom.stderr.suffix(500))")
        #expect(dom.stdout.contains("<h1>nephometer on ops-host</h1>"))
        #expect(dom.stdout.contains(memberID) && dom.stdout.contains("\(memberID) (this agent)"))
        #expect(dom.stdout.contains("group <code>compute-ops-host</code>: 1 member(s); this agent owns 4 resource(s)"))
        #expect(dom.stdout.contains(#"<p id="health" class="ok">healthy</p>"#))
        #expect(dom.stdout.contains("<td>60 s</td><td>1</td>"), "the schedule table shows one cycle")
        let png = "\(artifacts)/status.png"
        try? FileManager.default.removeItem(atPath: png)
        let shot = try Command.run("chromium", browser + ["--screenshot=\(png)", "--window-size=1200,1400", url], timeout: 90)
        #expect(shot.status == 0 && FileManager.default.fileExists(atPath: png), "\(shot.stderr.suffix(500))")
        print("status page screenshot: \(png)")
    }

    /// `log_level` and `log_modules`: a module's own level over the global one; event lines carry
    /// their metadata as key=value.
    @Test func perModuleLogLevelsAndKeyValueMetadata() throws {
        let dead = try FreePort.tcp()
        let args = try files(domains: 2, interval: 1, publishers: ["http://127.0.0.1:\(dead)/x?timeout=1&max_retries=0"],
                             config: "log_level: warning\nlog_modules: {NephometerAgent: debug}\n")
        let r = try Command.nephometer(["agent", "--cycles", "2"] + args, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.contains { $0.contains(" debug nephometer: [NephometerAgent] cycle 1 of interval 1 s") }, "\(r.stderr)")
        #expect(!lines.contains { $0.contains(" info nephometer: [NephometerCompute]") || $0.contains(" debug nephometer: [NephometerPublishers]") })
        #expect(lines.contains { $0.contains(" warning nephometer: [NephometerPublishers]") && $0.hasSuffix(" publisher=http://127.0.0.1:\(dead)/x?timeout=1&max_retries=0") },
                "\(r.stderr)")
    }

    @Test func aSpoolAboveItsMarkMakesTheAgentUnhealthy() throws {
        let dead = try FreePort.tcp()
        let a = try RunningAgent("unhealthy", dir: dir, args: try files(domains: 120, interval: 60, publishers: ["http://127.0.0.1:\(dead)/x?timeout=1&max_retries=0"],
                                                                   publisher: ", spool_max_bytes: 65536"))
        defer { a.process.stop() }
        #expect(eventually(timeout: 20) { ((try? a.get("/healthz").status) ?? 0) == 503 }, "\(a.process.stderr.suffix(1500))")
        let h = try a.get("/healthz")
        #expect(h.body.hasPrefix("publisher http://127.0.0.1:\(dead)/x?timeout=1&max_retries=0: ") && h.body.contains("at its bound of 65536 bytes")
                || h.body.contains("% of its bound"), "\(h.body)")
        #expect(try a.metric(#"nephometer_publisher_failing{publisher="http://127.0.0.1:\#(dead)/x?timeout=1&max_retries=0"}"#) == 1)
    }

    /// A publisher that stops taking samples (a file publisher writing into a FIFO nobody reads) does not
    /// delay polling: the queue fills to its bound, drops are counted, cycles keep their rate.
    @Test func aStuckPublisherNeverDelaysAPoll() throws {
        let fifo = dir.file("stuck.fifo")
        mkfifo(fifo, 0o600)
        let a = try RunningAgent("stuck", dir: dir, args: try files(domains: 5, interval: 1, publishers: ["file://\(fifo)"],
                                                               config: "pipeline: {queue_max_samples: 30, queue_full: drop_oldest}\n") + ["--print", "json"])
        defer { a.process.stop() }
        Thread.sleep(forTimeInterval: 8)
        let polled = a.process.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0))["timestamp"]?.stringValue.flatMap(Time.parseISO) }
        let cycles = Set(polled.map { Int($0) }).sorted()
        #expect(cycles.count >= 6, "\(cycles.count) cycles in 8 s with a stuck publisher")
        #expect(try a.metric("nephometer_pipeline_queue_dropped_samples_total") ?? 0 > 0)
        #expect(try a.metric("nephometer_pipeline_queue_samples") ?? 99 <= 30)
        #expect(a.logged("the pipeline queue is full") == 1)
        // Unblock the FIFO so the agent can stop.
        let drain = try BackgroundProcess("/bin/cat", [fifo], logDirectory: dir.path, name: "drain")
        a.process.signal(SIGTERM)
        #expect(a.process.wait(timeout: 20) == 0)
        drain.stop()
    }

    /// SIGTERM hands the agent's resources to its peers at once (it leaves the group); SIGKILL leaves
    /// them until the lease expires. A second signal during a graceful stop exits at once.
    @Test func aGracefulStopHandsOverAtOnceAndASecondSignalExits() throws {
        let etcd = try EtcdDaemon()
        defer { etcd.stop() }
        let node = LibvirtTestNode.uniform(count: 30, disks: 1, interfaces: 0)
        let uri = try node.write(to: dir.file("handover.xml"))
        let all = Set(node.domains.map(\.uuid))
        let polling = try dir.write("handover-polling.yaml", "sources:\n  - {name: c, interval: 1, meters: [cpu]}\n")
        func start(_ name: String) throws -> (BackgroundProcess, String) {
            let out = dir.file("\(name).jsonl")
            let pipeline = try dir.write("\(name)-pipeline.yaml", "sources: [{name: s, meters: [cpu], sinks: [k]}]\nsinks: [{name: k, publishers: ['file://\(out)']}]\n")
            let p = try BackgroundProcess(Command.nephometer, ["agent", "--namespaces", "compute", "--host", "h", "--libvirt-uri", uri,
                                                               "--polling", polling, "--pipeline", pipeline,
                                                               "--coordination-url", "\(etcd.coordinationURL)?timeout=10"],
                                          logDirectory: dir.path, name: name)
            return (p, out)
        }
        func resources(_ out: String, after t: Double) -> Set<String> {
            Set(jsonLines(out).compactMap { v in
                guard let ts = v["timestamp"]?.stringValue.flatMap(Time.parseISO), ts > t else { return nil }
                return v["resource_id"]?.stringValue
            })
        }
        let (a, outA) = try start("stay")
        let (b, _) = try start("leave")
        defer { a.stop(); b.stop() }
        #expect(eventually(timeout: 20) { let r = resources(outA, after: Date().timeIntervalSince1970 - 1.5); return !r.isEmpty && r.count < all.count })
        b.signal(SIGTERM)
        let stopped = Date().timeIntervalSince1970
        #expect(b.wait(timeout: 15) == 0)
        // The lease TTL is 10 s; the survivor covers everything within about one interval.
        var covered: Double?
        for _ in 0..<60 {
            Thread.sleep(forTimeInterval: 0.25)
            let now = Date().timeIntervalSince1970
            if resources(outA, after: now - 1.1) == all { covered = now; break }
        }
        let handover = try #require(covered) - stopped
        #expect(handover < 3, "handover after SIGTERM took \(handover) s (lease TTL 10 s)")
        #expect(b.stderr.contains("received SIGTERM; stopping"))

        // A second signal while the stop waits for a hanging endpoint exits at once.
        let hang = try HangingTCPServer()
        defer { hang.stop() }
        let out = dir.file("hang.jsonl")
        let args = try files(domains: 2, interval: 1, publishers: ["file://\(out)", "http://127.0.0.1:\(hang.port)/x?timeout=30&max_retries=0"],
                             config: "shutdown_grace: 60\n")
        let c = try BackgroundProcess(Command.nephometer, ["agent"] + args, logDirectory: dir.path, name: "twice")
        #expect(eventually(timeout: 20) { jsonLines(out).count >= 4 })
        c.signal(SIGTERM)
        Thread.sleep(forTimeInterval: 1)
        #expect(c.isRunning, "the graceful stop waits for the hanging endpoint")
        let second = Date()
        c.signal(SIGTERM)
        #expect(c.wait(timeout: 5) == 130)
        #expect(Date().timeIntervalSince(second) < 2)
        #expect(c.stderr.contains("again during the graceful stop; exiting now"))
    }
}
