import Foundation

/// A TCP listener on a loopback port that accepts connections, reads what is sent and never answers:
/// an HTTP endpoint that hangs (a wedged server, a full accept queue behind a load balancer).
public final class HangingTCPServer: @unchecked Sendable {  // fd and thread touched only in init and stop
    public let port: Int
    private let fd: Int32
    private var stopped = false
    private let lock = NSLock()
    private var clients: [Int32] = []

    public init(port: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw DaemonFailed(name: "hanging server", log: "bind/listen on \(port) failed: \(String(cString: strerror(errno)))")
        }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        self.fd = fd
        let listener = fd
        Thread.detachNewThread { [weak self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                guard let self else { close(c); return }
                self.lock.lock()
                if self.stopped { self.lock.unlock(); close(c); return }
                self.clients.append(c)
                self.lock.unlock()
            }
        }
    }

    /// Closes the listener and every accepted connection (the port is free again).
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        for c in clients { close(c) }
        clients = []
    }

    deinit { stop() }
}

/// A small tmpfs mounted for one test (root only): a spool disk that fills up.
public final class SmallFilesystem: @unchecked Sendable {  // immutable after init
    public let path: String
    private let base: TemporaryDirectory

    public init(bytes: Int) throws {
        base = TemporaryDirectory("small-fs")
        path = base.file("mnt")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try Command.run("mount", ["-t", "tmpfs", "-o", "size=\(bytes),mode=0700", "tmpfs", path])
        guard r.status == 0 else {
            throw DaemonFailed(name: "tmpfs", log: "mount -t tmpfs failed (tests run as root): \(r.stderr)")
        }
    }

    deinit {
        _ = try? Command.run("umount", ["-l", path])
    }
}
