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
    private var pid: Int32 = 0

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
            // snmpd daemonizes (no -f): as a foreground child of Foundation's Process, every later
            // Process.run of the test process hung; it is stopped by the PID it writes.
            let r = try Command.run(snmpd, ["-Lf", "\(d)/snmpd.log", "-p", "\(d)/snmpd.pid", "-I", "-smux,mteTrigger,mteTriggerConf",
                                            "udp:127.0.0.1:\(port)"],
                                    environment: ["MIBS": "", "SNMPCONFPATH": "\(d)/conf:\(d)/persist", "SNMP_PERSISTENT_DIR": "\(d)/persist"],
                                    timeout: 20)
            var pid: Int32 = 0
            let up = r.status == 0 && eventually(timeout: 20, interval: 0.05) {
                if pid == 0, let text = try? String(contentsOfFile: "\(d)/snmpd.pid", encoding: .utf8) {
                    pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                }
                return pid > 0 && Self.answers(port: port, community: community)
            }
            if up {
                self.port = port
                self.pid = pid
                ProcessReaper.register(pid: pid, name: "snmpd")
                return
            }
            lastError = ((try? String(contentsOfFile: "\(d)/snmpd.log", encoding: .utf8)) ?? "") + r.stderr
            if pid > 0 { kill(pid, SIGKILL) }
        }
        throw StartFailure(description: "snmpd did not start or answer on 127.0.0.1: \(lastError.suffix(2000))")
    }

    /// True when a v2c GET of sysUpTime.0 sent straight over UDP is answered within 0.3 s.
    static func answers(port: Int, community: String) -> Bool {
        guard let s = BoundUDPSocket.open() else { return false }
        defer { s.close() }
        return s.exchange(probePacket(community: community), port: port, timeout: 0.3)
    }

    /// A v2c GetRequest for sysUpTime.0 (BER, short lengths: communities under 90 bytes).
    static func probePacket(community: String) -> [UInt8] {
        let c = Array(community.utf8.prefix(90))
        let varbind: [UInt8] = [0x30, 0x0C, 0x06, 0x08, 0x2B, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05, 0x00]
        let pdu: [UInt8] = [0xA0, 0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0E] + varbind
        let body: [UInt8] = [0x02, 0x01, 0x01, 0x04, UInt8(c.count)] + c + pdu
        return [0x30, UInt8(body.count)] + body
    }

    /// A UDP port on 127.0.0.1 nothing is bound to right now.
    public static func freeUDPPort() throws -> Int { try FreePort.udp() }

    public var isRunning: Bool { pid > 0 && kill(pid, 0) == 0 }

    /// Stops snmpd (SIGTERM, then SIGKILL if it is still there after 0.5 s: it may inherit a blocked SIGTERM).
    public func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        if !eventually(timeout: 0.5, { kill(pid, 0) != 0 }) { kill(pid, SIGKILL) }
        ProcessReaper.unregister(pid: pid)
        pid = 0
    }

    deinit { stop() }
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

    /// Sends `packet` to 127.0.0.1:`port` and reports whether anything comes back within `timeout` s.
    public func exchange(_ packet: [UInt8], port: Int, timeout: Double) -> Bool {
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = UInt16(port).bigEndian
        to.sin_addr.s_addr = inet_addr("127.0.0.1")
        let sent = withUnsafePointer(to: &to) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                packet.withUnsafeBytes { sendto(fd, $0.baseAddress, packet.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == packet.count else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return false }
        var buf = [UInt8](repeating: 0, count: 4096)
        return recv(fd, &buf, buf.count, 0) > 0
    }
}
