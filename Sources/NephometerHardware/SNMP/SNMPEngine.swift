import CNetSNMP
import Foundation
import NephometerCore
import Synchronization

/// The process's SNMP engine: one dedicated thread drives every net-snmp session (net-snmp is not
/// reentrant, and Swift's cooperative pool must never block on sockets). Callers hand it batches of
/// host polls and await the outcomes; each host has its own deadline, and at most `window` hosts of a
/// batch are in flight at once. Sessions stay open across cycles (v3 engine ids are learned once),
/// are closed after a failure or when idle, and the descriptor limit is raised at start.
public final class SNMPEngine: @unchecked Sendable {
    /// The engine every hardware family of this process shares.
    public static let shared = SNMPEngine()

    enum Command {
        case batch(Batch)
        case close(Set<String>)
    }
    private let inbox = Mutex<[Command]>([])
    private let wakeFD: Int32
    private let epollFD: Int32
    static let wakeToken = UInt64.max

    // Engine-thread state.
    var sessions: [String: HostSession] = [:]
    var byToken: [UInt64: NetSession] = [:]
    var nextToken: UInt64 = 1
    var active: [ObjectIdentifier: Job] = [:]
    var batches: [Batch] = []
    var deferred: [() -> Void] = []
    var maxSessions = 1000
    var lfs: UnsafeMutablePointer<netsnmp_large_fd_set>?
    var lastIdleSweep = 0.0
    /// Sessions unused this long are closed.
    let idleSeconds = 600.0
    /// Scalars per GET PDU before the agent says tooBig.
    static let maxVarbindsPerGet = 48

    private init() {
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        _ = shim_epoll_add(epollFD, wakeFD, Self.wakeToken)
        let thread = Thread { [self] in loop() }
        thread.name = "nephometer-snmp"
        thread.stackSize = 4 << 20
        thread.start()
    }

    /// Polls the hosts; returns one outcome per request, in order, when the last one finishes.
    public func poll(_ requests: [HostRequest], window: Int) async -> [HostOutcome] {
        guard !requests.isEmpty else { return [] }
        return await withCheckedContinuation { c in
            submit(.batch(Batch(requests: requests, window: max(1, window), continuation: c)))
        }
    }

    /// Closes the sessions of these resource keys (at family shutdown).
    public func close(keys: Set<String>) {
        guard !keys.isEmpty else { return }
        submit(.close(keys))
    }

    private func submit(_ c: Command) {
        inbox.withLock { $0.append(c) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: - The loop (engine thread)

    private func loop() {
        shim_init_library("nephometer")
        let limit = shim_raise_nofile()
        maxSessions = max(64, limit - 256)
        lfs = shim_lfs_new(Int32(min(limit + 1, 1 << 20)))
        var tokens = [UInt64](repeating: 0, count: 256)
        while true {
            let commands = inbox.withLock { q -> [Command] in defer { q.removeAll() }; return q }
            for c in commands {
                switch c {
                case .batch(let b): batches.append(b)
                case .close(let keys): for k in keys { if let h = sessions[k], h.job == nil { closeHost(h) } }
                }
            }
            startJobs()
            let timeout: Int32 = active.isEmpty ? (sessions.isEmpty ? -1 : 30_000) : 10
            let n = tokens.withUnsafeMutableBufferPointer { shim_epoll_wait(epollFD, $0.baseAddress, 256, timeout) }
            if n > 0 {
                for i in 0..<Int(n) {
                    let token = tokens[i]
                    if token == Self.wakeToken {
                        var v: UInt64 = 0
                        _ = read(wakeFD, &v, 8)
                    } else if let ns = byToken[token], let h = ns.handle, let lfs {
                        _ = shim_sess_read_fd(h, ns.fd, lfs)
                        runDeferred()
                    }
                }
            }
            sweep(now: Time.monotonic())
        }
    }

    func runDeferred() {
        while !deferred.isEmpty {
            let work = deferred
            deferred.removeAll()
            for w in work { w() }
        }
    }

    /// Timeouts, host deadlines and idle sessions.
    private func sweep(now: Double) {
        var freed = false
        for job in Array(active.values) {
            if now >= job.deadlineAt {
                fail(job, SNMPFailure(.timeout, "\(job.request.target.redacted): no complete answer within the host deadline of \(format(job.request.deadline)) s"))
                continue
            }
            // Silent for a whole request timeout: stop counting it against the window (its retries go
            // on), so hosts that fall silent together cost the others one timeout, not all attempts.
            if job.holdsSlot && !job.answered && now - job.started >= job.request.target.timeout {
                job.holdsSlot = false
                job.batch.inFlight -= 1
                freed = true
            }
            if now >= job.nextCheck, let host = job.host {
                job.nextCheck = now + min(0.05, job.request.target.timeout / 4)
                for ns in [host.main, host.probe] {
                    if let ns, let h = ns.handle { snmp_sess_timeout(h) }
                }
                runDeferred()
            }
        }
        runDeferred()
        if freed { startJobs() }
        if now - lastIdleSweep > 30 {
            lastIdleSweep = now
            for h in Array(sessions.values) where h.job == nil && now - h.lastUsed > idleSeconds { closeHost(h) }
        }
    }

    private func startJobs() {
        var i = 0
        while i < batches.count {
            let b = batches[i]
            while b.inFlight < b.window && b.next < b.requests.count {
                if sessions.count >= maxSessions && !evictIdle() { return }
                let job = Job(batch: b, index: b.next, request: b.requests[b.next], now: Time.monotonic())
                b.next += 1
                b.inFlight += 1
                start(job)
            }
            if b.next >= b.requests.count { batches.remove(at: i) } else { i += 1 }
        }
        runDeferred()
    }

    /// Closes the least recently used idle session; false if every session is busy.
    private func evictIdle() -> Bool {
        guard let victim = sessions.values.filter({ $0.job == nil && $0.waiting.isEmpty }).min(by: { $0.lastUsed < $1.lastUsed }) else { return false }
        closeHost(victim)
        return true
    }

    func register(_ ns: NetSession) {
        byToken[ns.token] = ns
        if ns.fd >= 0 { _ = shim_epoll_add(epollFD, ns.fd, ns.token) }
    }

    func newToken() -> UInt64 {
        defer { nextToken += 1 }
        return nextToken
    }

    func closeNet(_ ns: NetSession?) {
        guard let ns else { return }
        byToken[ns.token] = nil
        ns.close()
    }

    func closeHost(_ h: HostSession) {
        closeNet(h.main)
        closeNet(h.probe)
        h.main = nil
        h.probe = nil
        if h.job == nil && h.waiting.isEmpty { sessions[h.key] = nil }
    }
}

/// A caller's set of host polls and where its results go.
final class Batch: @unchecked Sendable {
    let requests: [HostRequest]
    let window: Int
    var results: [HostOutcome?]
    var next = 0
    var inFlight = 0
    var done = 0
    let continuation: CheckedContinuation<[HostOutcome], Never>

    init(requests: [HostRequest], window: Int, continuation: CheckedContinuation<[HostOutcome], Never>) {
        self.requests = requests
        self.window = window
        self.continuation = continuation
        results = Array(repeating: nil, count: requests.count)
    }
}

func format(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.2f", seconds)
}
