import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import Synchronization
import Testing
import TestSupport

/// Flow control of the shared delivery: while the far end answers, what waits unsent in memory stays
/// within `aheadBytes` (submitters wait for the far end), and a far end that stops answering costs a
/// submitter at most `spoolAfter` (the waiting batches go to the spool and no longer count).
@Suite struct DeliveryFlowTests {
    /// Sends wait until the test opens the gate; then each is delivered (in order, recorded).
    final class GatedTransport: DeliveryTransport {
        let open = Mutex(false)
        /// Once open, every send fails (the far end went away).
        let failing = Mutex(false)
        let received = Mutex<[String]>([])

        func send(_ batch: DeliveryBatch) async -> DeliveryOutcome {
            while !open.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(5)) }
            if failing.withLock({ $0 }) { return .failed("connection refused") }
            received.withLock { $0.append(String(decoding: batch.body.prefix(12), as: UTF8.self)) }
            return .delivered
        }
        func probe() async -> Bool { true }
        func shutdown() async {}
    }

    static func batch(_ i: Int) -> DeliveryBatch {
        let head = Array(String(format: "batch-%06d", i).utf8)
        return DeliveryBatch(body: head + [UInt8](repeating: 0x20, count: 1000 - head.count), samples: 1)
    }

    /// Submits `n` batches of 1000 bytes one after another in a task; the count of submits that returned.
    static func submitting(_ n: Int, to delivery: Delivery) -> (Task<Void, Never>, Returned) {
        let returned = Returned()
        let task = Task {
            for i in 0..<n {
                await delivery.submit(batch(i))
                returned.count.withLock { $0 += 1 }
            }
            let spooled = await delivery.statistics.spooledBatches
            returned.spooledAfterLast.withLock { $0 = spooled }
        }
        return (task, returned)
    }

    /// A delivery over a gated transport with these bounds.
    static func delivery(aheadBytes: Int, spoolAfter: Double, spool: TemporaryDirectory? = nil) -> (GatedTransport, Delivery) {
        let transport = GatedTransport()
        var options = DeliveryOptions(spoolDirectory: spool.map { "\($0.path)/spool" }, spoolAfter: spoolAfter)
        options.aheadBytes = aheadBytes
        return (transport, Delivery(name: "flow", transport: transport, options: options, logger: Logger(label: "test")))
    }

    /// Opens the gate, then expects the `n` batches delivered, each once and in order.
    static func expectAllDelivered(_ n: Int, _ transport: GatedTransport, _ delivery: Delivery, after task: Task<Void, Never>) async {
        transport.open.withLock { $0 = true }
        await task.value
        #expect(await eventuallyAsync(timeout: 10) { await delivery.statistics.deliveredBatches == n })
        #expect(transport.received.withLock { $0 } == (0..<n).map { String(format: "batch-%06d", $0) }, "each once, in order")
        await delivery.close(grace: 1)
    }

    final class Returned: Sendable {
        let count = Mutex(0)
        /// Batches on disk as seen right after the last submit returned.
        let spooledAfterLast = Mutex(0)
        var value: Int { count.withLock { $0 } }
    }

    @Test(arguments: [true, false]) func submittersWaitWhileTheFarEndHasNotTakenWhatIsAhead(flowControl: Bool) async throws {
        let (transport, delivery) = Self.delivery(aheadBytes: flowControl ? 4000 : 0, spoolAfter: 60)
        let (task, returned) = Self.submitting(20, to: delivery)
        try await Task.sleep(for: .milliseconds(300))
        let held = await delivery.statistics.memoryBytes
        if flowControl {
            // 4000 bytes ahead are allowed; the fifth batch's submit waits for the far end.
            #expect(returned.value == 4)
            #expect(held == 5000)
        } else {
            #expect(returned.value == 20)
            #expect(held == 20_000)
        }
        await Self.expectAllDelivered(20, transport, delivery, after: task)
    }

    @Test func aFarEndThatStopsTakingCostsASubmitterAtMostSpoolAfter() async throws {
        let dir = TemporaryDirectory("delivery-flow")
        let (transport, delivery) = Self.delivery(aheadBytes: 2000, spoolAfter: 0.2, spool: dir)
        let (task, returned) = Self.submitting(10, to: delivery)
        // The far end takes nothing, yet every submit returns: what waited longer than spool_after is
        // on disk and no longer holds the submitters back.
        #expect(await eventuallyAsync(timeout: 20) { returned.value == 10 })
        #expect(await delivery.statistics.spooledBatches >= 8)
        #expect(transport.received.withLock { $0 }.isEmpty)
        await Self.expectAllDelivered(10, transport, delivery, after: task)
    }

    @Test func submittersWokenByAFailureReturnOnlyOnceTheirBatchesAreOnDisk() async throws {
        let dir = TemporaryDirectory("delivery-flow-fail")
        let (transport, delivery) = Self.delivery(aheadBytes: 4000, spoolAfter: 60, spool: dir)
        let (task, returned) = Self.submitting(5, to: delivery)
        #expect(await eventuallyAsync(timeout: 10) { returned.value == 4 })
        transport.failing.withLock { $0 = true }
        transport.open.withLock { $0 = true }
        await task.value
        // The fifth submit, woken by the failure, returned only once its batch was on disk.
        #expect(returned.spooledAfterLast.withLock { $0 } == 5)
        let s = await delivery.statistics
        #expect(s.queuedBatches == 5 && s.spooledBatches == 5, "\(s)")
        #expect(transport.received.withLock { $0 }.isEmpty)
        await delivery.close(grace: 0)
    }
}
