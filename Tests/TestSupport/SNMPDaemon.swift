import Foundation

/// net-snmp's `snmpd` on a free 127.0.0.1 UDP port with a private configuration: a v2c community and
/// a v3 authPriv user (SHA/AES, created through `createUser` in its persistent directory). Started in
/// the foreground without SMUX or the event MIB, and stopped by `stop()` or when released.
public final class SNMPDaemon: @unchecked Sendable {
    public let port: Int
    public let community: String
    public let user = "nephoUser"
    public let authPassword = "authpass123"
    public let privPassword = "privpass123"
    public let directory: TemporaryDirectory
    private let process: BackgroundProcess

    public var address: String { "127.0.0.1:\(port)" }
    /// A v2c resource URL for this agent.
    public var v2cURL: String { "snmp://\(community)@127.0.0.1:\(port)" }
    /// A v3 authPriv resource URL for this agent.
    public var v3URL: String {
        "snmp://\(user):\(authPassword)@127.0.0.1:\(port)?auth_proto=sha&priv_proto=aes128&priv_password=\(privPassword)"
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts snmpd and waits until it answers a v2c GET (fails with snmpd's log if it does not).
    public init(community: String = "nephotest") throws {
        self.community = community
        let snmpd: String
        do { snmpd = try Command.which("snmpd") } catch {
            throw StartFailure(description: "snmpd is not installed: the SNMP tests need Debian's snmpd and snmp packages (make test installs them)")
        }
        directory = TemporaryDirectory("nephometer-snmpd")
        let d = directory.path
        try directory.write("conf/snmpd.conf", """
            master no
            sysDescr nephometer test agent
            sysName nephometer-snmpd
            view all included .1
            rocommunity \(community) 127.0.0.1 -V all
            rouser \(user) authpriv -V all
            load 12 10 5
            disk / 10000

            """)
        try directory.write("persist/snmpd.conf", "createUser \(user) SHA \"\(authPassword)\" AES \"\(privPassword)\"\n")
        var lastError = ""
        for _ in 0..<5 {
            let port = try Self.freeUDPPort()
            let p = try BackgroundProcess(
                snmpd, ["-f", "-Lf", "\(d)/snmpd.log", "-I", "-smux,mteTrigger,mteTriggerConf", "udp:127.0.0.1:\(port)"],
                environment: ["MIBS": "", "SNMPCONFPATH": "\(d)/conf:\(d)/persist", "SNMP_PERSISTENT_DIR": "\(d)/persist"],
                logDirectory: d, name: "snmpd-\(port)")
            let up = eventually(timeout: 20, interval: 0.1) {
                guard p.isRunning else { return true }
                let r = try? Command.run("snmpget", ["-v2c", "-c", community, "-r0", "-t0.5", "-On", "127.0.0.1:\(port)", ".1.3.6.1.2.1.1.3.0"],
                                         environment: ["MIBS": ""], timeout: 5)
                return r?.status == 0
            }
            if up && p.isRunning {
                self.port = port
                process = p
                return
            }
            lastError = (try? String(contentsOfFile: "\(d)/snmpd.log", encoding: .utf8)) ?? ""
            p.stop()
        }
        throw StartFailure(description: "snmpd did not start or answer on 127.0.0.1: \(lastError.suffix(2000))")
    }

    /// A UDP port on 127.0.0.1 nothing is bound to right now.
    public static func freeUDPPort() throws -> Int {
        let s = BoundUDPSocket.open()
        guard let s else { throw StartFailure(description: "cannot bind a UDP socket on 127.0.0.1") }
        defer { s.close() }
        return s.port
    }

    public var isRunning: Bool { process.isRunning }

    public func stop() { process.stop() }

    deinit { process.stop() }
}

/// A UDP socket bound to 127.0.0.1 on a free port that never answers (a black-holed SNMP host).
public final class BoundUDPSocket: @unchecked Sendable {
    public let fd: Int32
    public let port: Int

    private init(fd: Int32, port: Int) {
        self.fd = fd
        self.port = port
    }

    public static func open() -> BoundUDPSocket? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else { Glibc.close(fd); return nil }
        return BoundUDPSocket(fd: fd, port: Int(UInt16(bigEndian: addr.sin_port)))
    }

    public func close() { Glibc.close(fd) }
}
