import CNetSNMP
import Foundation

/// One net-snmp single-session handle and its socket (engine thread only).
final class NetSession {
    let host: HostSession
    let isProbe: Bool
    var handle: UnsafeMutableRawPointer?
    var fd: Int32 = -1
    let token: UInt64
    var closing = false

    init(host: HostSession, isProbe: Bool, token: UInt64) {
        self.host = host
        self.isProbe = isProbe
        self.token = token
    }

    /// Opens the session (v3 probe sessions are noAuthNoPriv and never probe by themselves).
    func open() -> SNMPFailure? {
        let t = host.target
        var s = netsnmp_session()
        snmp_sess_init(&s)
        var allocations: [UnsafeMutableRawPointer?] = []
        defer { for a in allocations { free(a) } }
        func dup(_ text: String) -> UnsafeMutablePointer<CChar>? {
            let p = strdup(text)
            allocations.append(UnsafeMutableRawPointer(p))
            return p
        }
        s.peername = dup(t.peerName)
        s.timeout = Int(t.timeout * 1_000_000)
        s.retries = Int32(t.retries)
        s.callback = SNMPCallbacks.response
        s.callback_magic = Unmanaged.passUnretained(self).toOpaque()
        switch t.version {
        case .v1, .v2c:
            s.version = t.version == .v1 ? Int(SNMP_VERSION_1) : Int(SNMP_VERSION_2c)
            let c = t.community ?? "public"
            s.community = UnsafeMutableRawPointer(dup(c)).map { $0.assumingMemoryBound(to: u_char.self) }
            s.community_len = c.utf8.count
        case .v3:
            s.version = Int(SNMP_VERSION_3)
            s.securityModel = SHIM_SNMP_SEC_MODEL_USM
            if isProbe {
                s.securityName = dup("")
                s.securityNameLen = 0
                s.securityLevel = Int32(SNMP_SEC_LEVEL_NOAUTH)
                s.flags |= SHIM_SNMP_FLAGS_DONT_PROBE
            } else {
                let user = t.user ?? ""
                s.securityName = dup(user)
                s.securityNameLen = user.utf8.count
                s.securityLevel = Int32(t.privProtocol != nil ? SNMP_SEC_LEVEL_AUTHPRIV
                                        : t.authProtocol != nil ? SNMP_SEC_LEVEL_AUTHNOPRIV : SNMP_SEC_LEVEL_NOAUTH)
                if let a = t.authProtocol, let pass = t.authPassword {
                    guard shim_set_auth_proto(&s, a.shimIndex) == 0 else { return SNMPFailure(.configuration, "auth_proto \(a.rawValue) is not supported by this net-snmp") }
                    allocations.append(UnsafeMutableRawPointer(s.securityAuthProto))
                    guard shim_set_auth_key(&s, pass) == SNMPERR_SUCCESS else {
                        return SNMPFailure(.configuration, "cannot derive the \(a.rawValue) key from the auth password")
                    }
                }
                if let p = t.privProtocol, let pass = t.privPassword {
                    guard shim_set_priv_proto(&s, p.shimIndex) == 0 else { return SNMPFailure(.configuration, "priv_proto \(p.rawValue) is not supported by this net-snmp") }
                    allocations.append(UnsafeMutableRawPointer(s.securityPrivProto))
                    guard shim_set_priv_key(&s, pass) == SNMPERR_SUCCESS else {
                        return SNMPFailure(.configuration, "cannot derive the \(p.rawValue) key from priv_password")
                    }
                }
                if let c = t.context {
                    s.contextName = dup(c)
                    s.contextNameLen = c.utf8.count
                }
                if let id = host.engineID, !id.isEmpty {
                    guard let p = malloc(id.count) else { return SNMPFailure(.error, "out of memory") }
                    allocations.append(p)
                    id.withUnsafeBytes { b in if let base = b.baseAddress { _ = memcpy(p, base, id.count) } }
                    s.securityEngineID = p.assumingMemoryBound(to: u_char.self)
                    s.securityEngineIDLen = id.count
                }
            }
        }
        guard let h = snmp_sess_open(&s) else {
            let why = s.s_snmp_errno != 0 ? PDU.apiErrorString(s.s_snmp_errno) : String(cString: strerror(s.s_errno))
            return SNMPFailure(.error, "cannot open an SNMP session to \(t.redacted): \(why)")
        }
        handle = h
        fd = shim_sess_fd(h)
        return nil
    }

    /// Sends a PDU; returns its request id, or nil with the reason (the PDU is freed either way).
    func send(_ pdu: UnsafeMutablePointer<netsnmp_pdu>) -> Result<Int32, SNMPFailure> {
        guard let handle else { snmp_free_pdu(pdu); return .failure(SNMPFailure(.error, "session closed")) }
        let magic = Unmanaged.passUnretained(self).toOpaque()
        let reqid = snmp_sess_async_send(handle, pdu, SNMPCallbacks.response, magic)
        if reqid == 0 {
            snmp_free_pdu(pdu)
            var why = "send failed"
            if let m = shim_sess_error(handle) { why = String(cString: m); free(m) }
            return .failure(SNMPFailure(.error, "cannot send to \(host.target.redacted): \(why)"))
        }
        return .success(reqid)
    }

    func close() {
        closing = true
        if let h = handle {
            handle = nil
            snmp_sess_close(h)
        }
    }
}

/// An agent's state on the engine thread: its sessions, learned engine id, the job using it.
final class HostSession {
    let key: String
    let target: SNMPTarget
    var main: NetSession?
    var probe: NetSession?
    var engineID: [UInt8]?
    var job: Job?
    var waiting: [Job] = []
    var lastUsed: Double

    init(key: String, target: SNMPTarget, now: Double) {
        self.key = key
        self.target = target
        lastUsed = now
    }
}

/// The C callback net-snmp calls for every answer, timeout and send failure.
enum SNMPCallbacks {
    static let response: netsnmp_callback = { op, _, reqid, pdu, magic in
        guard let magic else { return 1 }
        let session = Unmanaged<NetSession>.fromOpaque(magic).takeUnretainedValue()
        if session.closing { return 1 }
        SNMPEngine.shared.handle(session: session, op: op, reqid: reqid, pdu: pdu)
        return 1
    }
}
