import Foundation
import NephometerCore
import Testing
import TestSupport

/// `nephometer receive` as a process, with a ready file telling its ports.
final class ReceiverProcess {
    let process: BackgroundProcess
    let output: String
    let udpPort: Int?
    let httpPort: Int?

    init(dir: TemporaryDirectory, name: String, secret: String, udp: Bool = true, http: Bool = true, httpPort fixed: Int? = nil) throws {
        output = dir.file("\(name).jsonl")
        let ready = dir.file("\(name).ready")
        try? FileManager.default.removeItem(atPath: ready)
        var args = ["receive", "--secret", secret, "--output", output, "--ready-file", ready]
        if udp { args += ["--udp", "127.0.0.1:0"] }
        if http { args += ["--http", "127.0.0.1:\(fixed ?? 0)"] }
        process = try BackgroundProcess(Command.nephometer, args, logDirectory: dir.path, name: name)
        guard eventually(timeout: 20, { FileManager.default.fileExists(atPath: ready) }),
              let text = try? String(contentsOfFile: ready, encoding: .utf8), let ports = try? JSONParser.parse(text) else {
            throw ReceiverFailed(stderr: process.stderr)
        }
        udpPort = ports["udp"]?.numberValue.map { Int($0.doubleValue) }
        httpPort = ports["http"]?.numberValue.map { Int($0.doubleValue) }
    }

    struct ReceiverFailed: Error, CustomStringConvertible {
        let stderr: String
        var description: String { "receiver did not start: \(stderr)" }
    }

    /// Stops with SIGTERM; returns the summary line.
    func stop() -> String {
        process.signal(SIGTERM)
        #expect(process.wait(timeout: 15) == 0)
        return process.stderr.split(separator: "\n").last { $0.hasPrefix("nephometer receive:") }.map(String.init) ?? ""
    }

    var samples: [MetadataValue] {
        ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }
}

@Suite(.serialized) struct PublishingTests {
    let dir = TemporaryDirectory("nephometer-publish")

    func files(domains: Int, publishers: [String], interval: Int = 1) throws -> (uri: String, polling: String, pipeline: String) {
        let uri = try LibvirtTestNode.uniform(count: domains).write(to: dir.file("node.xml"))
        let polling = try dir.write("polling.yaml", "sources:\n  - {name: c, interval: \(interval), meters: [cpu, vcpus, memory.usage, power.state]}\n")
        let pipeline = try dir.write("pipeline-\(UUID().uuidString.prefix(6)).yaml", """
        sources:
          - {name: s, meters: ["*"], sinks: [k]}
        sinks:
          - name: k
            publishers: [\(publishers.map { "\"\($0)\"" }.joined(separator: ", "))]
        """)
        return (uri, polling, pipeline)
    }

    @Test func agentToUDPAndHTTPEverySampleArrivesOnceSigned() throws {
        let udpReceiver = try ReceiverProcess(dir: dir, name: "udp", secret: "e2e-secret", http: false)
        let httpReceiver = try ReceiverProcess(dir: dir, name: "http", secret: "e2e-secret", udp: false)
        let f = try files(domains: 5, publishers: ["udp://127.0.0.1:\(udpReceiver.udpPort ?? 0)",
                                                   "http://127.0.0.1:\(httpReceiver.httpPort ?? 0)/v1/samples?batch=true"])
        let r = try Command.nephometer(["agent", "--namespaces", "compute", "--cycles", "2", "--libvirt-uri", f.uri,
                                        "--polling", f.polling, "--pipeline", f.pipeline, "--secret", "e2e-secret",
                                        "--spool-dir", dir.file("spool"), "--print", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let printed = try r.lines.map { try JSONParser.parse($0)["id"]?.stringValue ?? "" }
        #expect(printed.count == 40)
        // UDP: give the receiver a moment to drain its socket.
        #expect(eventually(timeout: 10) { udpReceiver.samples.count == 40 })
        #expect(eventually(timeout: 10) { httpReceiver.samples.count == 40 })
        #expect(Set(udpReceiver.samples.compactMap { $0["id"]?.stringValue }) == Set(printed))
        #expect(httpReceiver.samples.compactMap { $0["id"]?.stringValue } == printed)
        #expect(udpReceiver.stop() == "nephometer receive: received 40, accepted 40, rejected 0, duplicates 0")
        #expect(httpReceiver.stop() == "nephometer receive: received 40, accepted 40, rejected 0, duplicates 0")
    }

    @Test func anHTTPOutageLosesNothingEvenWhenTheAgentIsKilled() throws {
        let port = try FreePort.tcp()
        let spool = dir.file("outage-spool")
        let f = try files(domains: 3, publishers: ["http://127.0.0.1:\(port)/v1/samples?timeout=1&max_retries=0"])
        let args = ["agent", "--namespaces", "compute", "--libvirt-uri", f.uri, "--polling", f.polling, "--pipeline", f.pipeline,
                    "--secret", "e2e-secret", "--spool-dir", spool, "--print", "json"]
        // Receiver down: the agent polls several cycles into its spool, then is killed with SIGKILL.
        // The kill comes once the spool holds every one of the first 36 printed samples: a sample printed
        // in the last milliseconds before a kill may still be on its way through the pipeline, polled but
        // never acknowledged, which the durability table allows to be lost. What was on disk may not be.
        let first = try BackgroundProcess(Command.nephometer, args, logDirectory: dir.path, name: "agent1")
        #expect(eventually(timeout: 30) { first.stdout.split(separator: "\n").count >= 36 })
        let confirmed = Set(first.stdout.split(separator: "\n").prefix(36).compactMap { try? JSONParser.parse(String($0))["id"]?.stringValue })
        #expect(confirmed.count == 36)
        #expect(eventually(timeout: 20) { confirmed.isSubset(of: idsInSegments(spool, among: confirmed)) })
        first.signal(SIGKILL)
        first.wait(timeout: 10)
        let polledBeforeKill = Set(first.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0))["id"]?.stringValue })
        // The spool log holds the batches (segment files of fsync'd records); every sample on disk at the kill arrives.
        let onDisk = idsInSegments(spool, among: polledBeforeKill)
        #expect(confirmed.isSubset(of: onDisk))
        // Restarted agent, receiver back: everything spooled before the kill arrives, exactly once.
        let receiver = try ReceiverProcess(dir: dir, name: "outage", secret: "e2e-secret", udp: false, httpPort: port)
        let second = try BackgroundProcess(Command.nephometer, args, logDirectory: dir.path, name: "agent2")
        #expect(eventually(timeout: 40) {
            onDisk.isSubset(of: Set(receiver.samples.compactMap { $0["id"]?.stringValue }))
        })
        second.signal(SIGTERM)
        #expect(second.wait(timeout: 20) == 0)
        // Stopping the receiver flushes its output: then every sample it accepted is in the file.
        let summary = receiver.stop()
        #expect(summary.contains("rejected 0"))
        let received = receiver.samples.compactMap { $0["id"]?.stringValue }
        #expect(received.count == Set(received).count)
        let polledAfter = Set(second.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0))["id"]?.stringValue })
        // The second agent stopped gracefully: all it polled arrived; of the first, what was on disk, and
        // nothing that either agent did not poll.
        #expect(polledAfter.isSubset(of: Set(received)))
        #expect(Set(received).isSubset(of: polledBeforeKill.union(polledAfter)))
        #expect(onDisk.isSubset(of: Set(received)))
    }

    /// The ids among `ids` that occur in the spool's segment files (the HTTP bodies are JSON text).
    func idsInSegments(_ spool: String, among ids: Set<String>) -> Set<String> {
        let fm = FileManager.default
        let text = ((try? fm.contentsOfDirectory(atPath: spool)) ?? []).flatMap { sub in
            ((try? fm.contentsOfDirectory(atPath: "\(spool)/\(sub)")) ?? []).filter { $0.hasSuffix(".seg") }.map { "\(spool)/\(sub)/\($0)" }
        }.compactMap { fm.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) }.joined()
        return ids.filter { text.contains($0) }
    }

    @Test func badInputToTheReceiverIsCountedNotFatal() throws {
        let receiver = try ReceiverProcess(dir: dir, name: "bad", secret: "k")
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(receiver.udpPort ?? 0).bigEndian
        let garbage: [[UInt8]] = [[0x81, 0xa1], [0x93, 1, 2, 3], [0xdf, 0xff, 0xff, 0xff, 0xff], [0xa2, 0xc3, 0x28], [0xc1],
                                  Array(repeating: 0x91, count: 5000), Array("hello".utf8), []]
        for g in garbage {
            _ = g.withUnsafeBytes { b in
                withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                } }
            }
        }
        let bad = try Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary", "{[",
                                           "http://127.0.0.1:\(receiver.httpPort ?? 0)/v1/samples"])
        #expect(bad.stdout == "400")
        #expect(eventually(timeout: 5) { receiver.process.stderr.components(separatedBy: "rejected:").count - 1 >= garbage.count + 1 })
        #expect(receiver.process.isRunning)
        let summary = receiver.stop()
        #expect(summary == "nephometer receive: received \(garbage.count + 1), accepted 0, rejected \(garbage.count + 1), duplicates 0")
    }
}

