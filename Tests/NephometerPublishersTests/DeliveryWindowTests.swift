import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import Synchronization
import Testing

/// The shared delivery with a transport that takes several batches at once (the notification bus's
/// confirm window): groups are at most the window, in order, and a failure part-way through a group
/// retries from the first batch not delivered — nothing lost, nothing sent twice.
@Suite struct DeliveryWindowTests {
    final class GroupTransport: DeliveryTransport {
        struct State {
            var received: [String] = []
            var groups: [Int] = []
            /// Calls since the nack (nil before it).
            var sinceNack: Int?
        }
        let state = Mutex(State())
        let window = 4

        func send(_ batch: DeliveryBatch) async -> DeliveryOutcome { (await send(group: [batch])).first ?? .failed("none") }

        func send(group: [DeliveryBatch]) async -> [DeliveryOutcome] {
            state.withLock { s in
                s.groups.append(group.count)
                if s.sinceNack == nil, group.count >= 3 {
                    // The third message of the first group of three or more is refused by the broker
                    // (nack); the rest of that group is not sent.
                    s.sinceNack = 0
                    s.received += group.prefix(2).map { String(decoding: $0.body, as: UTF8.self) }
                    return [.delivered, .delivered, .failed("nack")]
                }
                if let n = s.sinceNack {
                    s.sinceNack = n + 1
                    // The second call after the nack: the connection drops before anything is confirmed.
                    if n + 1 == 2 { return [.failed("connection lost")] }
                }
                s.received += group.map { String(decoding: $0.body, as: UTF8.self) }
                return group.map { _ in .delivered }
            }
        }
        func probe() async -> Bool { true }
        func shutdown() async {}
    }

    @Test func groupsAreInOrderWithinTheWindowAndAFailureRetriesFromTheFirstUndelivered() async throws {
        let transport = GroupTransport()
        var options = DeliveryOptions()
        options.backoffInitial = 0.05
        options.probeInterval = 0.02
        let delivery = Delivery(name: "window", transport: transport, options: options, logger: Logger(label: "test"))
        let n = 40
        for i in 0..<n { await delivery.submit(DeliveryBatch(body: Array("batch-\(i)".utf8), samples: 1)) }
        for _ in 0..<500 where await delivery.statistics.deliveredBatches < n { try await Task.sleep(for: .milliseconds(10)) }
        await delivery.close(grace: 1)
        let s = transport.state.withLock { $0 }
        #expect(s.received == (0..<n).map { "batch-\($0)" }, "each batch once, in order")
        #expect(s.groups.allSatisfy { $0 >= 1 && $0 <= 4 }, "\(s.groups)")
        #expect(s.groups.contains(4), "the window was used: \(s.groups)")
        let stats = await delivery.statistics
        #expect(stats.deliveredBatches == n && stats.failedAttempts == 2 && stats.droppedSamplesTotal == 0, "\(stats)")
    }
}
