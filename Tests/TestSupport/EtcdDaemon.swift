import Foundation

/// A real etcd on free loopback ports with a temporary data directory, for the length of a test
/// suite (as Pifpaf runs one for OpenStack projects). Fails loudly when etcd is not installed.
public final class EtcdDaemon: @unchecked Sendable {
    public let clientPort: Int
    public let peerPort: Int
    public let dataDir: TemporaryDirectory
    private var process: BackgroundProcess?

    public var endpoint: String { "http://127.0.0.1:\(clientPort)" }
    public var coordinationURL: String { "etcd3+http://127.0.0.1:\(clientPort)" }

    public init() throws {
        dataDir = TemporaryDirectory("etcd")
        clientPort = try FreePort.tcp()
        peerPort = try FreePort.tcp()
        try start()
    }

    /// Starts etcd (again, on the same ports and data) and waits until it is healthy.
    public func start() throws {
        let etcd = try Command.which("etcd")
        let peer = "http://127.0.0.1:\(peerPort)"
        process = try BackgroundProcess(etcd, [
            "--name", "test", "--data-dir", dataDir.file("data"),
            "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "test=\(peer)", "--log-level", "error",
        ], logDirectory: dataDir.path, name: "etcd-\(UUID().uuidString.prefix(4))")
        let ok = eventually(timeout: 30, interval: 0.1) {
            (try? Command.run("curl", ["-s", "--max-time", "1", "\(endpoint)/health"]).stdout.contains("true")) ?? false
        }
        guard ok else { throw DaemonFailed(name: "etcd", log: process?.stderr ?? "") }
    }

    public func stop() {
        process?.stop()
        process = nil
    }

    /// `etcdctl` against this etcd.
    public func etcdctl(_ args: [String]) throws -> CommandResult {
        try Command.run("etcdctl", ["--endpoints", endpoint] + args, environment: ["ETCDCTL_API": "3"])
    }

    deinit { stop() }
}

public struct DaemonFailed: Error, CustomStringConvertible {
    public let name: String
    public let log: String
    public init(name: String, log: String) {
        self.name = name
        self.log = log
    }
    public var description: String { "\(name) did not become ready: \(log.suffix(2000))" }
}

/// Free loopback ports (bound to port 0, then released).
public enum FreePort {
    public static func tcp() throws -> Int { try find(SOCK_STREAM) }
    public static func udp() throws -> Int { try find(SOCK_DGRAM) }

    static func find(_ type: __socket_type) throws -> Int {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0 else { throw DaemonFailed(name: "port", log: "bind failed") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
