import Foundation
import NephometerCore
import Testing
import TestSupport

/// What an attacker or a careless operator can send must not crash, hang or exhaust an agent: numbers
/// from configs and URLs, alias bombs, huge and odd files, hostile peers in a group, absurd ring input,
/// secrets in URLs. The release of each finding is checked on the built binary.
@Suite(.serialized) struct HostileInputTests {
    let dir = TemporaryDirectory("hostile")

    func write(_ name: String, _ text: String) throws -> String { try dir.write(name, text) }

    var nodeURI: String {
        get throws { try LibvirtTestNode.uniform(count: 2).write(to: dir.file("node.xml")) }
    }

    static let polling = "sources:\n  - {name: c, interval: 60, meters: [cpu]}\n"

    static func pipeline(publisher: String = "file:///dev/null", transformer: String? = nil) -> String {
        """
        sources: [{name: s, meters: ["*"], sinks: [k]}]
        sinks:
          - name: k
            \(transformer.map { "transformers: [\($0)]" } ?? "transformers: []")
            publishers: ["\(publisher)"]
        """
    }

    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let pipeline: String
        /// Part of the error `validate` and `poll` must both print; nil: both must accept it.
        let error: String?
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "http timeout 1e30", pipeline: pipeline(publisher: "http://127.0.0.1:9/x?timeout=1e30"), error: "timeout must be a number of seconds in 0.001…3600"),
        Case(name: "http timeout inf", pipeline: pipeline(publisher: "http://127.0.0.1:9/x?timeout=inf"), error: "timeout must be a number of seconds in 0.001…3600"),
        Case(name: "http max_retries 2^63-1", pipeline: pipeline(publisher: "http://127.0.0.1:9/x?max_retries=9223372036854775807"), error: "max_retries must be a whole number in 0…100"),
        Case(name: "file backup_count 10^11", pipeline: pipeline(publisher: "file:///tmp/x.log?max_bytes=10&backup_count=99999999999"), error: "backup_count must be a whole number in 0…1000"),
        Case(name: "udp with an option", pipeline: pipeline(publisher: "udp://127.0.0.1:1?x=1"), error: "udp publisher takes no options"),
        Case(name: "round(volume, 1e30)", pipeline: pipeline(transformer: #"{name: unit_conversion, parameters: {target: {scale: "round(volume, 1e30)"}}}"#), error: "ndigits must be an integer"),
        Case(name: "round(1, 1e30)", pipeline: pipeline(transformer: #"{name: unit_conversion, parameters: {target: {scale: "round(1, 1e30)"}}}"#), error: "ndigits must be an integer"),
        Case(name: "round(1.5, 0*1e999)", pipeline: pipeline(transformer: #"{name: unit_conversion, parameters: {target: {scale: "round(1.5, 0*1e999)"}}}"#), error: "ndigits must be an integer"),
        Case(name: "round(1, 10**15)", pipeline: pipeline(transformer: #"{name: unit_conversion, parameters: {target: {scale: "round(1, 10**15)"}}}"#), error: nil),
        Case(name: "round(volume, volume)", pipeline: pipeline(transformer: #"{name: unit_conversion, parameters: {target: {scale: "round(volume, volume)"}}}"#), error: nil),
        Case(name: "60 000-term chain", pipeline: pipeline(transformer: "{name: unit_conversion, parameters: {target: {scale: \"" + Array(repeating: "volume", count: 60_000).joined(separator: "+") + "\"}}}"),
             error: "expression longer than 4096 characters"),
        Case(name: "catastrophic regex", pipeline: pipeline(transformer: #"{name: unit_conversion, parameters: {source: {map_from: {name: "(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*!"}}, target: {map_to: {name: "x"}}}}"#), error: nil),
        Case(name: "regex back-reference", pipeline: pipeline(transformer: #"{name: unit_conversion, parameters: {source: {map_from: {name: "(a)\\1"}}, target: {map_to: {name: "x"}}}}"#), error: "back-references"),
    ]

    /// `validate` and `poll` are one function: each case is accepted by both or refused by both, with
    /// the same message; nothing crashes or hangs.
    @Test(arguments: cases) func validateAndPollAgree(_ c: Case) throws {
        let polling = try write("polling.yaml", Self.polling)
        let pipeline = try write("pipeline-\(c.name.filter { $0.isLetter || $0.isNumber }).yaml", c.pipeline)
        let v = try Command.nephometerMeasured(["validate", "--polling", polling, "--pipeline", pipeline], timeout: 30)
        let p = try Command.nephometerMeasured(["poll", "--once", "--publish", "--namespaces", "compute", "--libvirt-uri", try nodeURI,
                                                "--polling", polling, "--pipeline", pipeline, "--spool-dir", dir.file("spool")], timeout: 30)
        for (what, m) in [("validate", v), ("poll", p)] {
            #expect(m.result.status == 0 || m.result.status == 1, "\(what) \(c.name): status \(m.result.status) \(m.result.stderr.suffix(500))")
            #expect(m.seconds < 10, "\(what) \(c.name) took \(m.seconds) s")
            #expect(m.peakMiB < 400, "\(what) \(c.name) used \(m.peakMiB) MiB")
        }
        if let error = c.error {
            #expect(v.result.status == 1 && v.result.stdout.contains(error), "validate \(c.name): \(v.result.stdout)")
            #expect(p.result.status == 1 && p.result.stderr.contains(error), "poll \(c.name): \(p.result.stderr.suffix(600))")
        } else {
            #expect(v.result.status == 0, "validate \(c.name): \(v.result.stdout)")
            #expect(p.result.status == 0, "poll \(c.name): \(p.result.stderr.suffix(600))")
        }
    }

    @Test func coordinationNumbersAreCheckedWithTheirLine() throws {
        for (url, error) in [("etcd3+http://127.0.0.1:1?timeout=inf", "timeout must be a number of seconds in 0.1…3600"),
                             ("file:///tmp/group?timeout=1e30", "timeout must be a number of seconds in 0.1…3600"),
                             ("etcd3+http://127.0.0.1:1?timeout=5&tiemout=4", "unknown option 'tiemout'")] {
            let config = try write("coord.yaml", "log_level: info\ncoordination:\n  backend_url: \"\(url)\"\n")
            let r = try Command.nephometer(["validate", "--config", config, "--polling", try write("p.yaml", Self.polling),
                                            "--pipeline", try write("pl.yaml", Self.pipeline())])
            #expect(r.status == 1)
            #expect(r.stdout.contains("\(config):3:16: coordination.backend_url: ") && r.stdout.contains(error), "\(r.stdout)")
        }
    }

    // MARK: Config size and alias bombs

    static func laughs(_ levels: Int, key: String = "lol") -> String {
        var y = "a0: &a0 [\"\(String(repeating: "x", count: 16))\"]\n"
        for i in 1..<levels { y += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        return y
    }

    @Test func aliasBombsAreRefusedWithinBoundedMemory() throws {
        let bomb = Self.laughs(9)  // 9^8 ≈ 43 million nodes once expanded, from about 600 bytes
        let mappingBomb = "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}\n" + (1..<9).map { i in
            "m\(i): &m\(i) {" + (0..<9).map { "k\($0): *m\(i - 1)" }.joined(separator: ", ") + "}"
        }.joined(separator: "\n") + "\n"
        let polling = try write("bomb-polling.yaml", Self.polling + "unknown_key:\n" + bomb.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n")
        let pipeline = try write("bomb-pipeline.yaml", bomb + Self.pipeline())
        let agent = try write("bomb-agent.yaml", mappingBomb)
        for (what, args) in [("polling.yaml", ["--polling", polling, "--pipeline", try write("ok-pipeline.yaml", Self.pipeline())]),
                             ("pipeline.yaml", ["--polling", try write("ok-polling.yaml", Self.polling), "--pipeline", pipeline]),
                             ("nephometer.yaml", ["--config", agent])] {
            let m = try Command.nephometerMeasured(["validate"] + args, timeout: 30)
            #expect(m.result.status == 1, "\(what): \(m.result.stdout) \(m.result.stderr.suffix(300))")
            #expect(m.result.stdout.contains("expands to more than 200000 nodes"), "\(what): \(m.result.stdout)")
            #expect(m.seconds < 10 && m.peakMiB < 400, "\(what): \(m.seconds) s, \(m.peakMiB) MiB")
        }
    }

    @Test func hugeDeepAndOddFilesAreRefusedClearly() throws {
        let pipeline = try write("pl.yaml", Self.pipeline())
        var big = Self.polling + "    resources:\n"
        let line = "      - snmp://" + String(repeating: "h", count: 80) + "\n"
        big += String(repeating: line, count: (9 << 20) / line.utf8.count)
        let cases: [(String, String, String)] = [
            ("9 MiB", try write("big.yaml", big), "larger than 8 MiB"),
            ("deep flow", try write("deep.yaml", "sources: " + String(repeating: "[", count: 100_000) + "\n"), "nested more than 64 levels"),
            ("deep dashes", try write("dashes.yaml", "sources:\n" + String(repeating: "- ", count: 100_000) + "x\n"), "nested more than 64 levels"),
            ("directory", dir.path, "is a directory"),
            ("/dev/zero", "/dev/zero", "is not a regular file"),
        ]
        let fifo = dir.file("fifo.yaml")
        mkfifo(fifo, 0o600)
        for (name, file, error) in cases + [("FIFO", fifo, "is not a regular file")] {
            let m = try Command.nephometerMeasured(["validate", "--polling", file, "--pipeline", pipeline], timeout: 30)
            #expect(m.result.status == 1, "\(name): \(m.result.stderr.suffix(300))")
            #expect(m.result.stdout.contains(error), "\(name): \(m.result.stdout)")
            #expect(!m.result.stdout.contains("NSCocoaErrorDomain"))
            #expect(m.seconds < 10 && m.peakMiB < 400, "\(name): \(m.seconds) s, \(m.peakMiB) MiB")
        }
    }

    // MARK: A running agent and its reloads

    @Test func aRunningAgentSurvivesHostileReloads() throws {
        let output = dir.file("reload-samples.log")
        let polling = try write("reload-polling.yaml", "sources:\n  - {name: c, interval: 1, meters: [cpu]}\n")
        let good = Self.pipeline(publisher: "file://\(output)")
        let pipeline = try write("reload-pipeline.yaml", good)
        let agent = try BackgroundProcess(Command.nephometer, ["agent", "--namespaces", "compute", "--libvirt-uri", try nodeURI,
                                                               "--polling", polling, "--pipeline", pipeline, "--spool-dir", dir.file("spool")],
                                          logDirectory: dir.path, name: "reload-agent")
        defer { agent.stop() }
        let lines = { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").count }
        #expect(eventually(timeout: 15) { lines() >= 2 })
        let refused = Self.cases.filter { $0.error != nil }
        for c in refused {
            try c.pipeline.write(toFile: pipeline, atomically: true, encoding: .utf8)
            agent.signal(SIGHUP)
            Thread.sleep(forTimeInterval: 0.3)
            #expect(agent.isRunning, "the agent died on reloading \(c.name): \(agent.stderr.suffix(800))")
        }
        try good.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let before = lines()
        #expect(eventually(timeout: 10) { lines() >= before + 2 }, "polling continued across the reloads")
        #expect(agent.stderr.components(separatedBy: "reload failed").count - 1 == refused.count, "\(agent.stderr.suffix(1500))")
    }

    // MARK: Peers

    /// A member record with an absurd weight, in a file:// group and in etcd as tooz lays it out: the
    /// agents log it once, ignore the member and go on splitting the work.
    @Test func aHostileMemberRecordCannotTakeTheGroupDown() throws {
        let etcd = try EtcdDaemon()
        defer { etcd.stop() }
        let node = LibvirtTestNode.uniform(count: 20, disks: 1, interfaces: 0)
        let uri = try node.write(to: dir.file("group-node.xml"))
        let polling = try write("group-polling.yaml", "sources:\n  - {name: c, interval: 1, meters: [cpu]}\n")
        let groupDir = dir.file("group")
        var agents: [BackgroundProcess] = []
        var outputs: [String] = []
        defer { for a in agents { a.stop() } }
        for (i, url) in ["file://\(groupDir)?timeout=3", "file://\(groupDir)?timeout=3", "\(etcd.coordinationURL)?timeout=3"].enumerated() {
            let out = dir.file("group-\(i).log")
            outputs.append(out)
            agents.append(try BackgroundProcess(Command.nephometer, [
                "agent", "--namespaces", "compute", "--host", "h", "--libvirt-uri", uri, "--polling", polling,
                "--pipeline", try write("group-pipeline-\(i).yaml", Self.pipeline(publisher: "file://\(out)")),
                "--coordination-url", url, "--log-level", "info",
            ], logDirectory: dir.path, name: "group-agent-\(i)"))
        }
        #expect(eventually(timeout: 15) { FileManager.default.fileExists(atPath: "\(groupDir)/groups") })
        Thread.sleep(forTimeInterval: 2)
        // msgpack {'capabilities': {'weight': w}, 'member_id': b'…', 'encoded': True} (tooz's file driver)
        // and {'weight': w} under tooz/groups/<group>/<member> (tooz's etcd3gw driver).
        let weights: [(String, [UInt8])] = [
            ("1e30", [0xcb] + withUnsafeBytes(of: (1e30).bitPattern.bigEndian, Array.init)),
            ("nan", [0xcb] + withUnsafeBytes(of: Double.nan.bitPattern.bigEndian, Array.init)),
            ("inf", [0xcb] + withUnsafeBytes(of: Double.infinity.bitPattern.bigEndian, Array.init)),
            ("2^63-1", [0xcf] + withUnsafeBytes(of: UInt64(Int64.max).bigEndian, Array.init)),
            ("10^7", [0xce] + withUnsafeBytes(of: UInt32(10_000_000).bigEndian, Array.init)),
        ]
        let groups = try FileManager.default.contentsOfDirectory(atPath: "\(groupDir)/groups")
        for (name, w) in weights {
            let id = Array("hostile-\(name)".utf8)
            var record: [UInt8] = [0x83, 0xac] + Array("capabilities".utf8) + [0x81, 0xa6] + Array("weight".utf8) + w
            record += [0xa9] + Array("member_id".utf8) + [0xc4, UInt8(id.count)] + id + [0xa7] + Array("encoded".utf8) + [0xc3]
            for g in groups { FileManager.default.createFile(atPath: "\(groupDir)/groups/\(g)/hostile-\(name).raw", contents: Data(record)) }
            let key = Data("tooz/groups/compute-h/hostile-\(name)".utf8).base64EncodedString()
            let value = Data([0x81, 0xa6] + Array("weight".utf8) + w).base64EncodedString()
            let r = try Command.run("curl", ["-s", "-X", "POST", "\(etcd.endpoint)/v3/kv/put", "-d", "{\"key\": \"\(key)\", \"value\": \"\(value)\"}"])
            #expect(r.status == 0 && r.stdout.contains("revision"), "\(r.stdout)")
        }
        Thread.sleep(forTimeInterval: 4)
        for (i, a) in agents.enumerated() {
            #expect(a.isRunning, "agent \(i) died: \(a.stderr.suffix(1000))")
            #expect(a.stderr.contains("is not a whole number in 0…1000; the member is ignored"), "agent \(i): \(a.stderr.suffix(1500))")
            // Logged once per member, not once per cycle.
            #expect(a.stderr.components(separatedBy: "hostile-1e30: weight").count - 1 == 1)
        }
        // The two file:// agents still split their group's domains between them, once each.
        let now = Date().timeIntervalSince1970
        func polled(_ out: String) -> Set<String> {
            Set(((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                guard let v = try? JSONParser.parse(String(line)), let ts = v["timestamp"]?.stringValue.flatMap(Time.parseISO),
                      ts > now - 1.5 else { return nil }
                return v["resource_id"]?.stringValue
            })
        }
        let a = polled(outputs[0]), b = polled(outputs[1])
        #expect(!a.isEmpty && !b.isEmpty && a.isDisjoint(with: b) && a.union(b) == Set(node.domains.map(\.uuid)), "\(a.count) + \(b.count)")
        #expect(polled(outputs[2]) == Set(node.domains.map(\.uuid)), "the etcd agent is alone in its group and polls everything")
    }

    /// What tooz itself does with such weights (the reference for the rule above): a float weight
    /// raises TypeError in its ring, so tooz agents cannot use it either.
    @Test func toozRefusesAFloatWeightToo() throws {
        let venv = try PythonVenv.ensure(name: "tooz", packages: ["tooz", "etcd3gw"])
        let r = try Command.run("\(venv)/bin/python", ["-c", """
            from tooz import hashring
            for w in (1e30, float('nan'), float('inf')):
                try:
                    hashring.HashRing({}).add_node('m', weight=w)
                    print('accepted', w)
                except TypeError as e:
                    print('TypeError', w)
            """])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("TypeError") }, "\(r.stdout)")
    }

    @Test func theRingCommandRefusesAbsurdInput() throws {
        let a = try Command.nephometerMeasured(["ring", "--members", "a:1000000", "k"], timeout: 20)
        #expect(a.result.status != 0 && a.result.stderr.contains("weight of a must be a whole number in 0…1000"))
        let b = try Command.nephometerMeasured(["ring", "--members", "a,b", "--partitions", "100000000", "k"], timeout: 20)
        #expect(b.result.status != 0 && b.result.stderr.contains("--partitions must be 1…10000"))
        let c = try Command.nephometerMeasured(["ring", "--members", (0..<1000).map { "m\($0):1000" }.joined(separator: ","), "k"], timeout: 20)
        #expect(c.result.status != 0 && c.result.stderr.contains("at most 2000000"))
        for m in [a, b, c] { #expect(m.seconds < 5 && m.peakMiB < 200) }
        // Keys that are not UTF-8 are refused, not turned into U+FFFD (two of them would collide).
        let input = String(decoding: [0x61, 0x0A, 0xff, 0x62, 0x0A, 0xfe, 0x62, 0x0A, 0x63, 0x0A], as: UTF8.self)
        _ = input
        let raw = dir.file("keys.bin")
        FileManager.default.createFile(atPath: raw, contents: Data([0x61, 0x0A, 0xff, 0x62, 0x0A, 0xfe, 0x62, 0x0A, 0x63, 0x0A]))
        let d = try Command.run("/bin/sh", ["-c", "'\(Command.nephometer)' ring --members x,y < '\(raw)'"])
        #expect(d.status == 1)
        #expect(d.lines.count == 2 && d.stdout.contains("\"key\": \"a\"") && d.stdout.contains("\"key\": \"c\""), "\(d.stdout)")
        #expect(d.stderr.contains("line 2 of stdin is not valid UTF-8") && d.stderr.contains("line 3 of stdin is not valid UTF-8"))
    }

    // MARK: Secrets

    @Test func urlSecretsAreNeverPrinted() throws {
        let polling = try write("secret-polling.yaml", Self.polling + "  - {name: h, interval: 60, meters: ['hardware.cpu.load.1min'], resources: ['snmp://user:Snmp?Leak1234@h.example']}\n")
        let outputs: [CommandResult] = [
            try Command.nephometer(["validate", "--polling", polling, "--pipeline", try write("secret-pl.yaml", Self.pipeline(publisher: "http://user:Http/Leak99@collector.example/v1"))]),
            try Command.nephometer(["ring", "--coordination-url", "etcd3+http://user:PASSWORD7@127.0.0.1:1", "--group", "g", "k"]),
            try Command.nephometer(["poll", "--once", "--namespaces", "central", "--polling", polling, "--pipeline", try write("plain-pl.yaml", Self.pipeline())]),
        ]
        for r in outputs {
            for secret in ["Leak1234", "Snmp?", "Leak99", "Http/", "PASSWORD7"] {
                #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret), "\(secret) printed: \(r.stdout) \(r.stderr.suffix(800))")
            }
        }
        #expect(outputs[0].stdout.contains("percent-encode"), "\(outputs[0].stdout)")
    }

    // MARK: The receiver under load

    static func peakMiB(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let kb = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        return (kb ?? 0) / 1024
    }

    @Test func theReceiversMemoryIsBoundedAcrossConnections() throws {
        let receiver = try ReceiverProcess(dir: dir, name: "bounded", secret: "", udp: false)
        let body = dir.file("60mb.json")
        FileManager.default.createFile(atPath: body, contents: Data(repeating: 0x20, count: 60 << 20))
        let url = "http://127.0.0.1:\(receiver.httpPort ?? 0)/v1/samples"
        let posts = try (0..<8).map { i in
            try BackgroundProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60", "-X", "POST",
                                                    "-H", "Content-Type: application/json", "--data-binary", "@\(body)", url],
                                  logDirectory: dir.path, name: "post-\(i)")
        }
        for p in posts { p.wait(timeout: 70) }
        let statuses = posts.map(\.stdout)
        #expect(statuses.count == 8 && statuses.allSatisfy { ["400", "503", "000"].contains($0) }, "\(statuses)")
        // Bodies beyond the shared budget are refused with 503 (or their connection closed), not held.
        #expect(statuses.contains { $0 == "503" || $0 == "000" }, "\(statuses)")
        let peak = Self.peakMiB(receiver.process.pid)
        #expect(peak < 450, "the receiver peaked at \(peak) MiB")
        #expect(receiver.process.isRunning)
        _ = receiver.stop()
    }

    @Test func aMillionBadItemsAreOneLogLineAndDoNotStallIntake() throws {
        let receiver = try ReceiverProcess(dir: dir, name: "summary", secret: "", udp: false)
        let url = "http://127.0.0.1:\(receiver.httpPort ?? 0)/v1/samples"
        let body = dir.file("million.json")
        FileManager.default.createFile(atPath: body, contents: Data(("[" + Array(repeating: "{}", count: 3_000_000).joined(separator: ",") + "]").utf8))
        let good = try write("good.json", #"[{"counter_name": "cpu", "counter_type": "cumulative", "counter_unit": "ns", "counter_volume": 1, "user_id": null, "project_id": null, "resource_id": "r1", "timestamp": "2026-01-01T00:00:00", "resource_metadata": {}, "source": "openstack", "message_id": "11111111-2222-3333-4444-555555555555"}]"#)
        let big = try BackgroundProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-X", "POST", "--data-binary", "@\(body)", url],
                                        logDirectory: dir.path, name: "big-post")
        Thread.sleep(forTimeInterval: 0.5)
        let sent = Date()
        let small = try Command.run("curl", ["-s", "-X", "POST", "--data-binary", "@\(good)", url])
        let answered = Date().timeIntervalSince(sent)
        #expect(small.stdout.contains("accepted"), "\(small.stdout)")
        #expect(answered < 1.5, "a small request waited \(answered) s behind the big one")
        big.wait(timeout: 60)
        Thread.sleep(forTimeInterval: 0.5)
        let summary = receiver.stop()
        #expect(summary.contains("received 3000001"), "\(summary)")
        let lines = receiver.process.stderr.split(separator: "\n")
        #expect(lines.count < 20, "\(lines.count) lines of stderr for one bad request")
        #expect(lines.contains { $0.contains("3000000 of 3000000 item(s) rejected: malformed sample") }, "\(lines.prefix(5))")
    }

    @Test func idleAndSurplusConnectionsAreClosed() throws {
        func start(_ name: String, idle: Int) throws -> (BackgroundProcess, Int) {
            let ready = dir.file("\(name).ready")
            let p = try BackgroundProcess(Command.nephometer, ["receive", "--http", "127.0.0.1:0", "--output", dir.file("\(name).jsonl"),
                                                               "--ready-file", ready, "--idle-timeout", "\(idle)"], logDirectory: dir.path, name: name)
            #expect(eventually(timeout: 20) { FileManager.default.fileExists(atPath: ready) })
            let port = (try? JSONParser.parse(String(contentsOfFile: ready, encoding: .utf8)))?["http"]?.numberValue.map { Int($0.doubleValue) } ?? 0
            return (p, port)
        }
        func connect(_ port: Int) -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(port).bigEndian
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            return fd
        }
        /// True when the server closed `fd` within `timeout` seconds.
        func closed(_ fd: Int32, within timeout: Double) -> Bool {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return false }
            var b: UInt8 = 0
            return recv(fd, &b, 1, 0) <= 0
        }
        // At most 256 connections are served: the surplus is closed at once.
        let (capped, capPort) = try start("capped", idle: 60)
        defer { capped.stop() }
        let many = (0..<300).map { _ in connect(capPort) }
        defer { for fd in many { close(fd) } }
        Thread.sleep(forTimeInterval: 1)
        let surplus = many.filter { closed($0, within: 0.01) }.count
        #expect(surplus >= 300 - 256 && surplus <= 300 - 200, "\(surplus) of 300 connections closed at once")
        #expect(capped.isRunning)
        // An idle connection is closed after --idle-timeout seconds.
        let (idler, idlePort) = try start("idler", idle: 2)
        defer { idler.stop() }
        let few = (0..<5).map { _ in connect(idlePort) }
        defer { for fd in few { close(fd) } }
        #expect(idlePort > 0 && few.allSatisfy { $0 >= 0 })
        Thread.sleep(forTimeInterval: 0.5)
        #expect(few.allSatisfy { !closed($0, within: 0.01) }, "closed before the idle timeout")
        #expect(few.allSatisfy { closed($0, within: 4) }, "not closed after the idle timeout")
    }
}
