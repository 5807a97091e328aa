import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import Testing
import TestSupport

/// A plain UDP socket bound on loopback, standing for a collector.
final class LoopbackUDPSocket {
    let fd: Int32
    let port: Int
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        self.fd = fd
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    func receive() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buf, buf.count, 0)
        return n < 0 ? nil : Array(buf.prefix(n))
    }
    deinit { close(fd) }
}

@Suite struct UDPPublisherTests {
    @Test func sendsOneCeilometerDatagramPerSample() async throws {
        let sock = try LoopbackUDPSocket()
        let p = try UDPPublisher(url: try PublisherURL("udp://127.0.0.1:\(sock.port)"), secret: "bench-secret", logger: Logger(label: "udp"))
        let samples = try goldenSamples()
        await p.publish(samples)
        let expected = try Fixtures.text("golden/udp-datagrams.hex").split(separator: "\n").map(hexBytes)
        for e in expected { #expect(sock.receive() == e) }
        // The 4th sample (an integer beyond 64 bits in its metadata) is counted, not sent.
        let unencodable = await p.unencodable, sent = await p.sent
        #expect(unencodable == 1 && sent == 3)
    }

    @Test func ipv6LiteralsAndTheDefaultPort() throws {
        #expect(throws: Never.self) { try UDPPublisher(url: try PublisherURL("udp://[::1]"), secret: "", logger: Logger(label: "u")) }
        let url = try PublisherURL("udp://[::1]:4953")
        #expect(url.host == "::1" && url.port == 4953)
        #expect(try PublisherURL("udp://collector").port == nil)
        #expect(UDPPublisher.defaultPort == 4952)
        #expect(throws: PublisherURLError.self) { try UDPPublisher(url: try PublisherURL("udp://h:4952?x=1"), secret: "", logger: Logger(label: "u")) }
    }

    /// 600 samples of varying sizes (messages of different block counts are signed in pairs) with an
    /// unencodable one in the middle: every other datagram arrives, byte for byte the reference encoding.
    @Test func aManySampleBatchArrivesWhole() async throws {
        let sock = try LoopbackUDPSocket()
        var rcv: Int32 = 8 << 20
        setsockopt(sock.fd, SOL_SOCKET, SO_RCVBUF, &rcv, socklen_t(MemoryLayout<Int32>.size))
        let p = try UDPPublisher(url: try PublisherURL("udp://127.0.0.1:\(sock.port)"), secret: "k", logger: Logger(label: "udp"))
        var samples = (0..<600).map {
            Sample(name: "n", type: .gauge, unit: "u", volume: .int(Int64($0)),
                   resourceID: "r\($0)" + String(repeating: "x", count: ($0 * 37) % 211))
        }
        samples[301].volume = .big("18446744073709551616")
        await p.publish(samples)
        let expected = samples.enumerated().filter { $0.offset != 301 }.map(\.element)
        var received = 0
        for s in expected {
            guard let d = sock.receive() else { break }
            #expect(d == (try MeterMessageEncoder.datagram(s, secret: "k")), "sample \(s.resourceID.prefix(6))")
            guard case .object(let m) = try MsgPackDecoder.decode(d) else { break }
            #expect(Signature.verify(m, secret: "k"))
            received += 1
        }
        #expect(received == 599)
        let unencodable = await p.unencodable
        #expect(unencodable == 1)
    }
}
