import CNetSNMP
import NephometerCore

/// One host's poll in one batch: scalar GETs and table walks in flight at once (engine thread only).
final class Job {
    enum Op {
        case probe
        case scalars([OID])
        case walk(Int)
    }
    let batch: Batch
    let index: Int
    let request: HostRequest
    let started: Double
    let deadlineAt: Double
    var host: HostSession?
    var ops: [Int32: Op] = [:]
    var readings = HostReadings()
    var walks: [TableWalk]
    var repetitions: [Int]
    var nextCheck = Double.infinity
    var finished = false
    /// The agent has answered something this cycle.
    var answered = false
    /// Counted in its batch's window; a host silent for a whole request timeout gives its slot up.
    var holdsSlot = true
    /// net-snmp reported a USM security error for this host's answers.
    var securityError = false

    init(batch: Batch, index: Int, request: HostRequest, now: Double) {
        self.batch = batch
        self.index = index
        self.request = request
        started = now
        deadlineAt = now + request.deadline
        walks = request.tables.map(TableWalk.init(spec:))
        repetitions = request.tables.indices.map { i in
            i < request.repetitions.count && request.repetitions[i] > 0 ? request.repetitions[i] : 10
        }
    }
}

extension SNMPEngine {
    func start(_ job: Job) {
        let key = job.request.key
        let host: HostSession
        if let h = sessions[key] {
            host = h
        } else {
            host = HostSession(key: key, target: job.request.target, now: job.started)
            sessions[key] = host
        }
        active[ObjectIdentifier(job)] = job
        job.host = host
        if host.job != nil {
            host.waiting.append(job)
            return
        }
        host.job = job
        proceed(job)
    }

    /// Opens what the host needs (probing a v3 engine id first), then sends every request.
    func proceed(_ job: Job) {
        guard !job.finished, let host = job.host else { return }
        let target = host.target
        if host.main == nil {
            if target.version == .v3 && host.engineID == nil {
                let probe = NetSession(host: host, isProbe: true, token: newToken())
                if let failure = probe.open() { return fail(job, failure) }
                host.probe = probe
                register(probe)
                guard let pdu = shim_probe_pdu() else { return fail(job, SNMPFailure(.error, "out of memory")) }
                return send(job, via: probe, pdu, .probe)
            }
            let ns = NetSession(host: host, isProbe: false, token: newToken())
            if let failure = ns.open() { return fail(job, failure) }
            host.main = ns
            register(ns)
        }
        var chunk: [OID] = []
        for oid in job.request.scalars {
            chunk.append(oid)
            if chunk.count == Self.maxVarbindsPerGet { sendGet(job, chunk); chunk = [] }
        }
        if !chunk.isEmpty { sendGet(job, chunk) }
        for i in job.walks.indices { sendWalk(job, i) }
        completeIfDone(job)
    }

    func sendGet(_ job: Job, _ oids: [OID]) {
        guard !job.finished, let ns = job.host?.main, let pdu = PDU.make(SHIM_SNMP_MSG_GET, oids) else { return }
        send(job, via: ns, pdu, .scalars(oids))
    }

    func sendWalk(_ job: Job, _ i: Int) {
        guard !job.finished, let ns = job.host?.main else { return }
        let oids = job.walks[i].nextRequest()
        guard !oids.isEmpty else { return }
        let bulk = job.request.target.version != .v1
        guard let pdu = PDU.make(bulk ? SHIM_SNMP_MSG_GETBULK : SHIM_SNMP_MSG_GETNEXT, oids) else { return }
        if bulk { shim_set_bulk(pdu, 0, job.repetitions[i]) }
        send(job, via: ns, pdu, .walk(i))
    }

    private func send(_ job: Job, via ns: NetSession, _ pdu: UnsafeMutablePointer<netsnmp_pdu>, _ op: Job.Op) {
        switch ns.send(pdu) {
        case .success(let reqid):
            job.ops[reqid] = op
            job.nextCheck = min(job.nextCheck, Time.monotonic() + job.request.target.timeout)
        case .failure(let f):
            fail(job, f)
        }
    }

    /// A callback from net-snmp (inside a read or timeout call): record, and defer any follow-up.
    func handle(session ns: NetSession, op: Int32, reqid: Int32, pdu: UnsafeMutablePointer<netsnmp_pdu>?) {
        guard let job = ns.host.job, !job.finished else { return }
        let target = job.request.target
        let isReport = pdu.map { Int32($0.pointee.command) == SHIM_SNMP_MSG_REPORT } ?? false
        if op == NETSNMP_CALLBACK_OP_SEC_ERROR {
            // net-snmp follows this with the agent's report (the reason), or the request times out.
            if !ns.isProbe { job.securityError = true }
            return
        }
        var jobOp = job.ops.removeValue(forKey: reqid)
        if jobOp == nil && isReport && ns.isProbe { jobOp = .probe }
        guard let jobOp else {
            if isReport, op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE, let pdu { reportFailure(job, pdu) }
            return
        }
        switch op {
        case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
            job.answered = true
            guard let pdu else { return fail(job, SNMPFailure(.error, "\(target.redacted): empty answer")) }
            if case .probe = jobOp {
                let p = pdu.pointee
                guard let id = p.securityEngineID, p.securityEngineIDLen > 0 else {
                    return fail(job, SNMPFailure(.error, "\(target.redacted): SNMPv3 engine-id discovery got no engine id"))
                }
                ns.host.engineID = Array(UnsafeBufferPointer(start: id, count: p.securityEngineIDLen))
                deferred.append { [self] in
                    closeNet(ns.host.probe)
                    ns.host.probe = nil
                    proceed(job)
                }
                return
            }
            if isReport {
                if snmpv3_get_report_type(pdu) == SHIM_SNMPERR_NOT_IN_TIME_WINDOW {
                    // net-snmp resends with the agent's time; keep waiting for that answer.
                    job.ops[reqid] = jobOp
                    return
                }
                return reportFailure(job, pdu)
            }
            response(job, jobOp, pdu)
        case NETSNMP_CALLBACK_OP_TIMED_OUT:
            let what = ns.isProbe ? "SNMPv3 engine-id discovery" : "request"
            if job.securityError {
                return fail(job, SNMPFailure(.authentication, "\(target.redacted): the agent rejected the SNMPv3 credentials (wrong user, password or protocols?)"))
            }
            fail(job, SNMPFailure(.timeout, "\(target.redacted): \(what) timed out (no answer in \(format(target.timeout)) s × \(target.retries + 1) attempts)"))
        case NETSNMP_CALLBACK_OP_RESEND:
            job.ops[reqid] = jobOp
        default:
            fail(job, SNMPFailure(.error, "\(target.redacted): send failed"))
        }
    }

    private func reportFailure(_ job: Job, _ pdu: UnsafeMutablePointer<netsnmp_pdu>) {
        let type = snmpv3_get_report_type(pdu)
        fail(job, SNMPFailure(.authentication, "\(job.request.target.redacted): agent refused the request: \(PDU.apiErrorString(type))"))
    }

    private func response(_ job: Job, _ op: Job.Op, _ pdu: UnsafeMutablePointer<netsnmp_pdu>) {
        let status = pdu.pointee.errstat
        let errIndex = pdu.pointee.errindex
        let varbinds = PDU.varbinds(pdu)
        switch op {
        case .probe:
            return
        case .scalars(let oids):
            if status == SNMP_ERR_TOOBIG {
                if oids.count == 1 { job.readings.scalars[oids[0]] = .noSuchObject; break }
                let half = oids.count / 2
                deferred.append { [self] in sendGet(job, Array(oids[..<half])); sendGet(job, Array(oids[half...])) }
                return
            }
            if status == SNMP_ERR_NOSUCHNAME, errIndex >= 1, errIndex <= oids.count {
                // v1: one missing object fails the whole PDU; drop it and ask again.
                job.readings.scalars[oids[errIndex - 1]] = .noSuchObject
                var rest = oids
                rest.remove(at: errIndex - 1)
                if !rest.isEmpty { deferred.append { [self] in sendGet(job, rest) }; return }
                break
            }
            guard status == 0 else {
                return fail(job, SNMPFailure(.error, "\(job.request.target.redacted): agent error \(PDU.errorString(status: status)) (index \(errIndex))"))
            }
            for (oid, value) in varbinds { job.readings.scalars[oid] = value }
        case .walk(let i):
            if status == SNMP_ERR_TOOBIG {
                if job.repetitions[i] > 1 {
                    job.repetitions[i] = max(1, job.repetitions[i] / 2)
                    deferred.append { [self] in sendWalk(job, i) }
                    return
                }
                job.walks[i].stopAll()
            } else if status == SNMP_ERR_NOSUCHNAME {
                job.walks[i].stop(askedPosition: errIndex - 1)
                if errIndex < 1 { job.walks[i].stopAll() }
            } else if status != 0 {
                return fail(job, SNMPFailure(.error, "\(job.request.target.redacted): agent error \(PDU.errorString(status: status)) walking \(job.walks[i].spec.name)"))
            } else {
                job.walks[i].consume(varbinds)
            }
            if !job.walks[i].finished {
                deferred.append { [self] in sendWalk(job, i) }
                return
            }
        }
        deferred.append { [self] in completeIfDone(job) }
    }

    func completeIfDone(_ job: Job) {
        guard !job.finished, job.ops.isEmpty else { return }
        job.readings.tables = job.walks.map(\.rows)
        finish(job, .success(job.readings))
    }

    func fail(_ job: Job, _ failure: SNMPFailure) {
        guard !job.finished else { return }
        finish(job, .failure(failure))
    }

    private func finish(_ job: Job, _ result: Result<HostReadings, SNMPFailure>) {
        job.finished = true
        let now = Time.monotonic()
        active[ObjectIdentifier(job)] = nil
        if let host = job.host {
            host.lastUsed = now
            if host.job === job {
                host.job = nil
                if case .failure = result {
                    // Outstanding requests die with the session; the next cycle opens a fresh one.
                    deferred.append { [self] in
                        if host.job == nil { closeHost(host) }
                    }
                }
                if !host.waiting.isEmpty {
                    let next = host.waiting.removeFirst()
                    host.job = next
                    deferred.append { [self] in proceed(next) }
                }
            } else {
                host.waiting.removeAll { $0 === job }
            }
        }
        let b = job.batch
        b.results[job.index] = HostOutcome(result: result, seconds: now - job.started, finishedAt: now)
        if job.holdsSlot { b.inFlight -= 1 }
        b.done += 1
        if b.done == b.requests.count {
            b.continuation.resume(returning: b.results.map { $0 ?? HostOutcome(result: .failure(SNMPFailure(.error, "lost")), seconds: 0) })
        }
    }
}
