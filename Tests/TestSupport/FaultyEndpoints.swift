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
        let socket = try LoopbackListener(port: port)
        self.port = socket.port
        self.fd = socket.fd
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

/// A TCP proxy on a loopback port in front of `127.0.0.1:upstream` whose connections can be frozen:
/// `freeze()` stops forwarding on every connection open at that moment, in both directions, without
/// closing anything — a network path that silently drops everything (a dead switch, a lost route).
/// Connections made after it are forwarded normally.
public final class FreezableTCPProxy: @unchecked Sendable {  // state under `lock`
    public let port: Int
    private let listener: LoopbackListener
    private let upstream: Int
    private let lock = NSLock()
    private var pairs: [(client: Int32, server: Int32, frozen: Bool)] = []
    private var stopped = false
    private var accepted = 0
    /// The accept thread and every pump: `stop()` closes descriptors only once they have ended.
    private let threads = DispatchGroup()

    public init(upstream: Int) throws {
        listener = try LoopbackListener()
        port = listener.port
        self.upstream = upstream
        let fd = listener.fd
        threads.enter()
        Thread.detachNewThread { [weak self, threads] in
            defer { threads.leave() }
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { if errno == EINTR { continue } else { return } }
                guard let self, !self.lock.withLock({ self.stopped }) else { close(c); return }
                self.connect(client: c)
            }
        }
    }

    /// Connections accepted so far.
    public var connections: Int { lock.withLock { accepted } }

    /// Stops forwarding on every connection open now.
    public func freeze() { lock.withLock { for i in pairs.indices { pairs[i].frozen = true } } }

    private func connect(client: Int32) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(upstream).bigEndian
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let index: Int? = lock.withLock {
            accepted += 1
            guard rc == 0, !stopped else { return nil }
            pairs.append((client, s, false))
            threads.enter()
            threads.enter()
            return pairs.count - 1
        }
        guard let index else { close(client); close(s); return }
        Thread.detachNewThread { [self] in pump(index, from: client, to: s); threads.leave() }
        Thread.detachNewThread { [self] in pump(index, from: s, to: client); threads.leave() }
    }

    private func pump(_ index: Int, from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let (frozen, stopped) = lock.withLock { (pairs[index].frozen, self.stopped) }
            if stopped { return }
            if frozen { usleep(50_000); continue }
            var p = pollfd(fd: from, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 50)
            if ready < 0 { if errno == EINTR { continue } else { return } }
            if ready == 0 || lock.withLock({ pairs[index].frozen }) { continue }
            let n = read(from, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { shutdown(to, Int32(SHUT_WR)); return }
            var sent = 0
            while sent < n {
                let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + sent, n - sent) }
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { return }
                sent += w
            }
        }
    }

    /// Closes the listener and every connection, once every thread of the proxy has ended. Idempotent.
    public func stop() {
        guard let all = lock.withLock({ () -> [(client: Int32, server: Int32, frozen: Bool)]? in
            if stopped { return nil }
            stopped = true
            return pairs
        }) else { return }
        shutdown(listener.fd, Int32(SHUT_RDWR))   // accept returns
        for p in all { shutdown(p.client, Int32(SHUT_RDWR)); shutdown(p.server, Int32(SHUT_RDWR)) }
        _ = threads.wait(timeout: .now() + 5)     // pumps see `stopped` within one 50 ms poll
        for p in all { close(p.client); close(p.server) }
        listener.close()
    }

    deinit { stop() }
}

/// A listening socket on a free loopback port.
final class LoopbackListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init(port: Int = 0) throws {
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
            Glibc.close(fd)
            throw DaemonFailed(name: "loopback listener", log: "bind/listen on \(port) failed: \(String(cString: strerror(errno)))")
        }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        self.fd = fd
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}
