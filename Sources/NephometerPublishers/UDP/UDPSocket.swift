import CNephometerNet
import Foundation

/// A connected, non-blocking UDP socket that sends batches with `sendmmsg`.
final class UDPSocket: @unchecked Sendable {
    private let fd: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        // Ceilometer prefers IPv6 when the name has an IPv6 address.
        var chosen = first
        var cur: UnsafeMutablePointer<addrinfo>? = first
        while let a = cur {
            if a.pointee.ai_family == AF_INET6 { chosen = a; break }
            cur = a.pointee.ai_next
        }
        fd = Foundation.socket(chosen.pointee.ai_family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var sndbuf: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, socklen_t(MemoryLayout<Int32>.size))
        guard connect(fd, chosen.pointee.ai_addr, chosen.pointee.ai_addrlen) == 0 else {
            let e = String(cString: strerror(errno))
            Foundation.close(fd)
            throw Failure(description: "connect to \(host):\(port): \(e)")
        }
    }

    deinit { Foundation.close(fd) }

    /// Sends every datagram; returns how many went out and the error that stopped the rest.
    func send(_ datagrams: [[UInt8]]) -> (sent: Int, error: String?) {
        var sent = 0
        let chunk = 256
        var index = 0
        while index < datagrams.count {
            let end = min(index + chunk, datagrams.count)
            let n = sendBatch(datagrams[index..<end])
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                // An ICMP "port unreachable" from an earlier datagram: the receiver is down; not our batch's fault.
                if e == ECONNREFUSED { continue }
                return (sent, String(cString: strerror(e)))
            }
            sent += Int(n)
            index += Int(n)
            if n == 0 { return (sent, "sendmmsg sent nothing") }
        }
        return (sent, nil)
    }

    private func sendBatch(_ batch: ArraySlice<[UInt8]>) -> Int32 {
        var iovecs: [iovec] = []
        iovecs.reserveCapacity(batch.count)
        return withExtendedLifetime(batch) {
            for d in batch {
                d.withUnsafeBufferPointer { iovecs.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)) }
            }
            return nephometer_sendmmsg(fd, iovecs, UInt32(iovecs.count))
        }
    }
}
