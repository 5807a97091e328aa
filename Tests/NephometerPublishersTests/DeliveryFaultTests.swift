import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import Testing
import TestSupport

/// The shared delivery layer under the faults an operator meets: a full spool disk, an endpoint that
/// hangs and returns. Real HTTP endpoints on loopback, a real (small) tmpfs.
@Suite(.serialized) struct DeliveryFaultTests {
    let dir = TemporaryDirectory("delivery-faults")

    func publisher(_ url: String, spoolDirectory: String, logs: CapturedLogs, delivery: DeliveryOptions = DeliveryOptions()) throws -> HTTPPublisher {
        try HTTPPublisher(url: try PublisherURL(url),
                          context: PublisherContext(telemetrySecret: "s3", spoolDirectory: spoolDirectory, delivery: delivery),
                          logger: logs.logger("http"))
    }

    /// Batches of about 10 KiB each.
    func batches(_ count: Int, tag: String) -> [[Sample]] {
        (0..<count).map { b in
            (0..<10).map { i in
                Sample(name: "m.\(tag)", type: .gauge, unit: "B", volume: .int(Int64(i)), resourceID: "r-\(b)-\(i)",
                       resourceMetadata: ["pad": .string(String(repeating: "p", count: 900))])
            }
        }
    }

    @Test func aFullSpoolDiskStillDeliversEverythingWhileTheEndpointAnswers() async throws {
        let fs = try SmallFilesystem(bytes: 256 << 10)
        let logs = CapturedLogs()
        let r = try await LocalReceiver(secret: "s3", directory: dir)
        // spool_after 0: every batch must go to disk before its first attempt, and the disk is too small.
        let p = try publisher("http://127.0.0.1:\(r.port)/v1?timeout=2", spoolDirectory: "\(fs.path)/spool", logs: logs,
                              delivery: DeliveryOptions(spoolAfter: 0))
        var sent: [String] = []
        for b in batches(60, tag: "full") {  // ~600 KiB through a 256 KiB disk
            sent += b.map(\.id)
            await p.publish(b)
        }
        await p.flush()
        #expect(await eventuallyAsync(timeout: 20) { await r.ids().count == sent.count })
        #expect(await r.ids() == sent)
        let s = await p.delivery.statistics
        #expect(s.droppedSamplesTotal == 0)
        #expect(s.deliveredSamples == sent.count)
        #expect(s.spoolWrites > 0, "the first batches fit on the disk")
        // One line for the episode, saying what really happens; none claims a batch was sent without a spool.
        #expect(logs.matching("cannot write the spool").count == 1)
        #expect(logs.matching("cannot write the spool").first?.message.contains("delivering them while the far end answers") == true)
        #expect(logs.matching("without a spool").isEmpty)
        await p.close()
        await r.stop()
    }

    @Test func aFullSpoolDiskWithTheEndpointDownKeepsWhatMemoryHoldsAndCountsTheRest() async throws {
        let fs = try SmallFilesystem(bytes: 256 << 10)
        let logs = CapturedLogs()
        let port = try FreePort.tcp()
        let p = try publisher("http://127.0.0.1:\(port)/v1?timeout=1", spoolDirectory: "\(fs.path)/spool", logs: logs,
                              delivery: DeliveryOptions(memoryBytes: 200 << 10))
        var submitted = 0
        for b in batches(80, tag: "down") {  // ~800 KiB: 256 KiB disk + 200 KiB memory cannot hold it
            submitted += b.count
            await p.publish(b)
        }
        #expect(await eventuallyAsync(timeout: 5) { await p.delivery.statistics.failing })
        let during = await p.delivery.statistics
        #expect(during.droppedSamples["memory", default: 0] > 0)
        #expect(during.spoolProblem != nil)
        #expect(logs.matching("cannot write the spool").count == 1)
        #expect(logs.matching("memory bound").count == 1, "one line per episode, not one per batch: \(logs.all)")
        // The endpoint returns: everything that was kept arrives, and kept + dropped is what was submitted.
        let r = try await LocalReceiver(secret: "s3", directory: dir, port: port)
        #expect(await eventuallyAsync(timeout: 30) { await p.delivery.statistics.queuedBatches == 0 })
        let after = await p.delivery.statistics
        let got = await r.ids()
        #expect(got.count == after.deliveredSamples)
        #expect(after.deliveredSamples + after.droppedSamplesTotal == submitted)
        #expect(Set(got).count == got.count)
        await p.close()
        await r.stop()
    }

    @Test func healthyDeliverySkipsTheDisk() async throws {
        let logs = CapturedLogs()
        let r = try await LocalReceiver(secret: "s3", directory: dir)
        let p = try publisher("http://127.0.0.1:\(r.port)/v1", spoolDirectory: dir.file("healthy"), logs: logs)
        for b in batches(50, tag: "ok") { await p.publish(b) }
        await p.flush()
        let s = await p.delivery.statistics
        #expect(s.deliveredBatches == 50)
        #expect(s.spoolWrites == 0)
        await p.close()
        #expect(await r.ids().count == 500)
        await r.stop()
    }

    @Test func deliveryResumesWithinSecondsOfAHungEndpointsReturn() async throws {
        let logs = CapturedLogs()
        let hung = try HangingTCPServer()
        let port = hung.port
        let p = try publisher("http://127.0.0.1:\(port)/v1?timeout=1&max_retries=0", spoolDirectory: dir.file("hang"), logs: logs)
        let started = Date()
        var sent: [String] = []
        for b in batches(3, tag: "hang") {
            sent += b.map(\.id)
            await p.publish(b)
        }
        // The first failure of the outage is logged at once (one timeout), not after retries.
        #expect(await eventuallyAsync(timeout: 5) { !logs.matching("keeping batches in").isEmpty })
        let firstLine = Date().timeIntervalSince(started)
        #expect(firstLine < 2.5, "first outage line after \(firstLine) s")
        // Hang long enough for the backoff to grow past ten seconds.
        try await Task.sleep(for: .seconds(14))
        #expect(await p.delivery.statistics.failedAttempts >= 3)
        #expect(await p.delivery.statistics.spooledBatches == 3)
        hung.stop()
        let back = Date()
        let r = try await LocalReceiver(secret: "s3", directory: dir, port: port)
        #expect(await eventuallyAsync(timeout: 30) { await p.delivery.statistics.queuedBatches == 0 })
        let resumed = Date().timeIntervalSince(back)
        #expect(resumed < 3.5, "delivery resumed \(resumed) s after the endpoint returned")
        print("measured: first outage line after \(String(format: "%.2f", firstLine)) s; delivery resumed \(String(format: "%.2f", resumed)) s after the endpoint returned")
        #expect(await r.ids() == sent)
        #expect(logs.matching("keeping batches in").count == 1)
        #expect(logs.matching("delivering again").count == 1)
        await p.close()
        await r.stop()
    }
}
