import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import NephometerReceiver
import Synchronization
import Testing
import TestSupport

/// A collector listening on a free loopback port, run in-process.
final class LocalReceiver: Sendable {
    let collector: SampleCollector
    let port: Int
    let task: Task<Void, any Error>
    let outputPath: String

    init(secret: String, directory: TemporaryDirectory, port: Int = 0) async throws {
        outputPath = directory.file("received-\(UUID().uuidString.prefix(6)).jsonl")
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: outputPath))
        let c = SampleCollector(secret: secret, output: handle, logger: Logger(label: "receiver"))
        collector = c
        let bound = Mutex<Int?>(nil)
        task = Task { try await HTTPListener.run(host: "127.0.0.1", port: port, collector: c) { p in bound.withLock { $0 = p } } }
        var p: Int?
        for _ in 0..<500 {
            p = bound.withLock { $0 }
            if p != nil { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        self.port = try #require(p)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    func ids() async -> [String] {
        await collector.flush()
        return ((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONParser.parse(String($0))["id"]?.stringValue }
    }
}


func batch(_ n: Int, tag: String) -> [Sample] {
    (0..<n).map { i in Sample(name: "m.\(tag)", type: .gauge, unit: "x", volume: .int(Int64(i)), resourceID: "r\(i)") }
}

@Suite(.serialized) struct HTTPPublisherTests {
    let dir = TemporaryDirectory("http-publisher")

    func publisher(_ url: String, secret: String = "s3") throws -> HTTPPublisher {
        try HTTPPublisher(url: try PublisherURL(url), context: PublisherContext(telemetrySecret: secret, spoolDirectory: dir.file("spool")),
                          logger: Logger(label: "http"))
    }

    @Test func optionsSplitAsCeilometerDoes() throws {
        let p = try publisher("https://user:p%40ss@example.org:8443/v1/samples?timeout=3&max_retries=0&batch=false&verify_ssl=false&tenant=7&raw_only=1")
        #expect(p.displayURL == "https://user:***@example.org:8443/v1/samples?timeout=3&max_retries=0&batch=false&verify_ssl=false&tenant=7&raw_only=1")
        let o = try HTTPTarget.describe("https://user:p%40ss@example.org:8443/v1/samples?timeout=3&max_retries=0&batch=false&verify_ssl=false&tenant=7&raw_only=1")
        #expect(o == "POST https://example.org:8443/v1/samples?tenant=7 timeout=3.0 retries=0 batch=false verify=false auth=user")
        #expect(throws: PublisherURLError.self) { try publisher("http://x/?timeout=soon") }
        #expect(throws: PublisherURLError.self) { try publisher("http://x/?batch=maybe") }
        #expect(throws: PublisherURLError.self) { try publisher("http:///nohost") }
        #expect(throws: PublisherURLError.self) { try publisher("https://x/?clientcert=/nonexistent.pem") }
    }

    @Test func deliversBatchesWithASignatureTheReceiverAccepts() async throws {
        let r = try await LocalReceiver(secret: "s3", directory: dir)
        let p = try publisher("http://127.0.0.1:\(r.port)/v1/samples?foo=bar")
        let samples = batch(30, tag: "a")
        await p.publish(samples)
        await p.flush()
        #expect(await r.ids() == samples.map(\.id))
        #expect(await r.collector.counts.rejected == 0)
        #expect(await p.spooled == 0)
        await p.close()
        await r.stop()
    }

    @Test func anOutageSpoolsAndEverythingArrivesOnceInOrderAfterwards() async throws {
        let port = try FreePort.tcp()
        let p = try publisher("http://127.0.0.1:\(port)/v1/samples?timeout=1&max_retries=0")
        var sent: [String] = []
        for i in 0..<5 {
            let b = batch(10, tag: "\(i)")
            sent += b.map(\.id)
            await p.publish(b)
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(await p.spooled == 5)
        let r = try await LocalReceiver(secret: "s3", directory: dir, port: port)
        #expect(await eventuallyAsync(timeout: 20) { await p.spooled == 0 })
        let got = await r.ids()
        #expect(got == sent)
        #expect(await r.collector.counts.duplicates == 0)
        await p.close()
        await r.stop()
    }

    @Test func theSpoolSurvivesARestartOfThePublisher() async throws {
        let port = try FreePort.tcp()
        var first: HTTPPublisher? = try publisher("http://127.0.0.1:\(port)/x?timeout=1&max_retries=0")
        let b = batch(7, tag: "restart")
        await first?.publish(b)
        await first?.close()
        first = nil
        let r = try await LocalReceiver(secret: "s3", directory: dir, port: port)
        let second = try publisher("http://127.0.0.1:\(port)/x?timeout=1&max_retries=0")
        await second.publish(batch(1, tag: "later"))
        #expect(await eventuallyAsync(timeout: 20) { await second.spooled == 0 })
        #expect(Array(await r.ids().prefix(7)) == b.map(\.id))
        await second.close()
        await r.stop()
    }

    @Test func aPermanentRefusalIsLoggedAndNotRetried() async throws {
        let r = try await LocalReceiver(secret: "other-secret", directory: dir)
        let p = try publisher("http://127.0.0.1:\(r.port)/x")
        await p.publish(batch(3, tag: "refused"))
        await p.flush()
        #expect(await eventuallyAsync(timeout: 10) { await p.refused == 1 })
        #expect(await p.spooled == 0)
        #expect(await r.collector.counts.rejected == 3)
        await p.close()
        await r.stop()
    }
}

func eventuallyAsync(timeout: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
