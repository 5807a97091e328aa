import CBenchLoop
import CNephometerNet
import Foundation
import Logging
import NephometerCore
import NephometerPublishers

/// Signed samples per second through the UDP publisher (msgpack encoding and HMAC signing included)
/// to a local receiver socket, next to a bare C `sendmmsg` loop of same-sized datagrams as the ceiling.
enum UDPBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let count = option(args, "samples", default: 200_000)
        let runs = option(args, "runs", default: 5)
        let batch = option(args, "batch", default: 50)
        // blocking: the receiver sleeps in recvmmsg, and on loopback the sender's syscall pays for
        // waking it (more often the slower the sender). polling: the receiver spins on MSG_DONTWAIT and
        // is never woken, closer to a sender whose receiver is on another host.
        let receiver = option(args, "receiver", default: "polling")
        guard receiver == "polling" || receiver == "blocking" else { throw BenchError("--receiver polling|blocking") }
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let sink = try Drain(polling: receiver == "polling")
        let samples = BenchSamples.compute(count)
        let size = try MeterMessageEncoder.datagram(samples[0], secret: "bench-secret").count
        // The pipeline hands the publisher arrays of samples: build them before the clock starts.
        let batches = stride(from: 0, to: samples.count, by: batch).map { Array(samples[$0..<min($0 + batch, samples.count)]) }
        var ours: [Double] = [], ceiling: [Double] = []
        for _ in 0..<runs {
            let p = try UDPPublisher(url: try PublisherURL("udp://127.0.0.1:\(sink.port)"), secret: "bench-secret", logger: Logger(label: "b"))
            let start = DispatchTime.now().uptimeNanoseconds
            for b in batches { await p.publish(b) }
            ours.append(Double(samples.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            let seconds = bench_sendmmsg_loop(Int32(sink.port), size, count, Int32(batch))
            ceiling.append(Double(count) / seconds)
        }
        let o = Stats(values: ours), c = Stats(values: ceiling)
        print("udp publisher: \(count) signed samples (\(size)-byte datagrams), batches of \(batch), \(receiver) receiver, \(runs) runs")
        print("  nephometer UDPPublisher: median \(format(o.median)) samples/s (min \(format(o.min)), max \(format(o.max)))")
        print("  bare C sendmmsg loop:    median \(format(c.median)) datagrams/s (min \(format(c.min)), max \(format(c.max)))")
        print("  ratio: \(format(o.median / c.median * 100, 1)) % of the ceiling; receiver drained \(sink.received) datagrams")
    }
}

/// A loopback UDP socket drained by its own thread (the receiving side of the benchmark).
final class Drain: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let counter = Counter()
    var received: Int { counter.value }

    init(polling: Bool) throws {
        let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        fd = sock
        var rcv: Int32 = 16 << 20
        setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcv, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let counter = self.counter
        Thread.detachNewThread {
            var buffers = [UInt8](repeating: 0, count: 64 * 2048)
            var lengths = [Int](repeating: 0, count: 64)
            while true {
                let n = buffers.withUnsafeMutableBufferPointer { b in
                    lengths.withUnsafeMutableBufferPointer { l in
                        nephometer_recvmmsg(sock, b.baseAddress, 2048, 64, l.baseAddress, polling ? Int32(MSG_DONTWAIT) : 0)
                    }
                }
                if n > 0 { counter.add(Int(n)) }
            }
        }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    func add(_ n: Int) { lock.lock(); v += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return v }
}

/// Compute samples as the compute agent makes them (Ceilometer-sized metadata).
enum BenchSamples {
    static func compute(_ count: Int) -> [Sample] {
        let metadata: MetadataObject = [
            "display_name": .string("vm-0"), "name": .string("instance-00000000"),
            "instance_id": .string("11111111-0000-0000-0000-000000000000"), "instance_type": .string("m1.small"),
            "host": .string("ad9e70faba14fec3065b1927f6d84df015931bf9ace8c91021d64169"), "instance_host": .string("bench-host"),
            "flavor": .object(["id": .string("2"), "name": .string("m1.small"), "vcpus": .int(1), "ram": .int(2048),
                               "disk": .int(20), "ephemeral": .int(0), "swap": .int(0)]),
            "status": .string("active"), "state": .string("running"), "task_state": .string(""),
            "image": .object(["id": .string("696d6167-652d-6964-2020-202020202020")]),
            "image_ref": .string("696d6167-652d-6964-2020-202020202020"), "image_ref_url": .null,
            "architecture": .string("x86_64"), "os_type": .string("hvm"), "vcpus": .int(1), "memory_mb": .int(2048),
            "disk_gb": .int(20), "ephemeral_gb": .int(0), "root_gb": .int(20), "cpu_number": .int(1),
        ]
        let ts = Time.isoTimestamp()
        return (0..<count).map { i in
            Sample(name: "cpu", type: .cumulative, unit: "ns", volume: .int(1_795_618_227_356_620_000 + Int64(i)),
                   userID: "75736572-2d69-6420-2020-202020202020", projectID: "6f70656e-7374-6163-6b20-70726f6a6563",
                   resourceID: "11111111-0000-0000-0000-\(String(format: "%012d", i % 1000))", timestamp: ts,
                   resourceMetadata: metadata, monotonicTime: 12345.678 + Double(i))
        }
    }
}
