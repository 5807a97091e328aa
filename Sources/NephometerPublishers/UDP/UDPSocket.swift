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

    /// Sends every datagram of `packed` (back to back; datagram `i` ends at `ends[i]`); returns how
    /// many went out and the error that stopped the rest.
    func send(_ packed: UnsafeRawBufferPointer, ends: [Int]) -> (sent: Int, error: String?) {
        guard let base = packed.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return (0, nil) }
        let chunk = 256
        var index = 0
        return ends.withUnsafeBufferPointer { ends in
            guard let endsBase = ends.baseAddress else { return (0, nil) }
            while index < ends.count {
                let count = min(chunk, ends.count - index)
                let start = index == 0 ? 0 : ends[index - 1]
                let n = nephometer_sendmmsg_packed(fd, base, start, endsBase + index, UInt32(count))
                if n < 0 {
                    let e = errno
                    if e == EINTR { continue }
                    // An ICMP "port unreachable" from an earlier datagram: the receiver is down; not our batch's fault.
                    if e == ECONNREFUSED { continue }
                    return (index, String(cString: strerror(e)))
                }
                if n == 0 { return (index, "sendmmsg sent nothing") }
                index += Int(n)
            }
            return (index, nil)
        }
    }
}
