import DequeModule
import Foundation
import Logging
import NephometerCore

/// The delivery layer every network publisher shares (HTTP, the notification bus, Gnocchi): batches
/// go out in order — one at a time, or as many as the transport's `window` (the bus: several messages
/// awaiting their publisher confirms) — and nothing is lost while the far end is down.
///
/// - A batch is kept in memory and sent at once. One that is not delivered within `spoolAfter`
///   seconds, or that meets a failing far end, is written to the on-disk spool (`SpoolLog`, fsync'd)
///   and delivered from there, oldest first, after restarts too.
/// - Failures retry with exponential backoff and jitter; during a backoff the far end is probed every
///   `probeInterval`, so delivery resumes within about a second of its return.
/// - Bounds: spool bytes (fixed, or automatic from the measured output rate), batch age, memory; the
///   filesystem's last `filesystemReserve` is never used. What a bound drops is counted by reason and
///   logged once per episode. A spool that cannot be written (a full disk) keeps batches in memory
///   and delivers them if the far end answers.
/// - Logs: one line when an outage starts (at its first failure), one when it ends.
///
/// All file I/O runs on the delivery's own `BlockingQueue`, never on the cooperative pool.
public actor Delivery {
    struct Entry {
        let id: UInt64
        var body: [UInt8]?
        let tag: String
        let samples: Int
        let bytes: Int
        /// Wall-clock seconds when submitted (for the age bound, kept in the spool).
        let created: Double
        /// Monotonic seconds when submitted (for `spoolAfter`).
        let enqueued: Double
        var diskSequence: UInt64?
        var spilling = false
    }

    public nonisolated let name: String
    let transport: any DeliveryTransport
    let options: DeliveryOptions
    let logger: Logger
    private let io: BlockingQueue

    private var queue = Deque<Entry>()
    private var nextID: UInt64 = 1
    private var heldBytes = 0
    /// Bytes of entries in memory that are not on disk yet (what flow control bounds).
    private var unspooledBytes = 0
    private var roomWaiters: [CheckedContinuation<Void, Never>] = []
    private var diskBytes = 0
    /// Entries being sent now (up to the transport's window).
    private var inFlight: Set<UInt64> = []
    private var stats = DeliveryStatistics()

    private var spool: SpoolLog?
    private var spillBusy = false
    private var spillWaiters: [CheckedContinuation<Void, Never>] = []
    private var spoolOpened = false
    private var spoolOpening = false
    private var spoolRetryAt = 0.0
    private var spoolProblem: String?
    private var lastDiskSequence: UInt64 = 0
    private var cursorSavedAt = 0.0

    private var started = false
    private var closing = false
    private var closed = false
    private var failingSince: Double?
    private var attempts = 0
    private var workWake: AsyncStream<Void>.Continuation?
    private var spillWake: AsyncStream<Void>.Continuation?
    private var streams: (AsyncStream<Void>, AsyncStream<Void>)?
    private var standalone: Task<Void, Never>?
    private var endWaiters: [CheckedContinuation<Void, Never>] = []

    private var rate = RateMeter()
    private let once = LogOnce()
    private var refusalLog = RateLimitedLog(interval: 60)

    public init(name: String, transport: any DeliveryTransport, options: DeliveryOptions, logger: Logger) {
        self.name = name
        self.transport = transport
        self.options = options
        self.logger = logger
        io = BlockingQueue(label: "nephometer.delivery")
    }

    // MARK: Intake

    /// Queues a batch. While the far end answers this returns at once, or — when `aheadBytes` of
    /// batches wait unsent and not on disk — once that is no longer so (the far end delivered some, or
    /// they were spooled after `spoolAfter`); while it fails, it returns once the batch is written to
    /// the spool and fsync'd (or, with no usable spool, held in memory).
    public func submit(_ batch: DeliveryBatch) async {
        startIfNeeded()
        let e = Entry(id: nextID, body: batch.body, tag: batch.tag, samples: batch.samples, bytes: batch.body.count,
                      created: Date().timeIntervalSince1970, enqueued: Time.monotonic())
        nextID += 1
        queue.append(e)
        heldBytes += e.bytes
        unspooledBytes += e.bytes
        stats.submittedBatches += 1
        stats.submittedSamples += e.samples
        rate.record(bytes: e.bytes, at: e.enqueued)
        workWake?.yield()
        if closing || failingSince != nil || options.spoolAfter <= 0 {
            await spill(all: false)
        } else if heldBytes > options.memoryBytes {
            spillWake?.yield()
        }
        var waited = false
        while mustWaitForRoom {
            waited = true
            await withCheckedContinuation { roomWaiters.append($0) }
        }
        // Woken because the far end failed (or on close): as for any batch then, return only once it
        // is on disk.
        if waited, failingSince != nil || closing { await spill(all: false) }
    }

    private var mustWaitForRoom: Bool {
        options.aheadBytes > 0 && unspooledBytes > options.aheadBytes && failingSince == nil && !closing
    }

    /// Lets waiting submitters go on once there is room again (or the far end failed, or closing).
    private func wakeSubmitters() {
        guard !roomWaiters.isEmpty, !mustWaitForRoom else { return }
        let waiters = roomWaiters
        roomWaiters = []
        for w in waiters { w.resume() }
    }

    /// Counts samples a publisher refused before they became a batch (a sample the far end could not
    /// take): they appear with the far end's refusals.
    public func noteRefused(samples: Int) {
        stats.refusedSamples += samples
    }

    /// Starts the delivery's work in a task of its own (also delivers what a previous run left in the
    /// spool): for users without a service group (`poll --publish`, tests). The agent calls `run`.
    public func start() {
        startIfNeeded()
    }

    private func startIfNeeded() {
        guard !started else { return }
        let (work, workC) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (spill, spillC) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        streams = (work, spill)
        workWake = workC
        spillWake = spillC
        started = true
        workC.yield()
        standalone = Task { [weak self] in await self?.loops() }
    }

    /// The delivery's work — sending, spooling, the tick that spools aged batches — in structured
    /// concurrency until `close`. Idempotent: when the work runs already, waits for it to end.
    public func run() async {
        if started {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                if closed { c.resume() } else { endWaiters.append(c) }
            }
            return
        }
        let (work, workC) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (spill, spillC) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        streams = (work, spill)
        workWake = workC
        spillWake = spillC
        started = true
        workC.yield()
        await loops()
    }

    private func loops() async {
        guard let (work, spill) = streams else { return }
        let tick = max(0.05, min(1, options.spoolAfter / 2))
        await withDiscardingTaskGroup { group in
            group.addTask { [weak self] in
                await self?.openSpool()
                for await _ in work {
                    guard let self else { return }
                    await self.deliverQueue()
                }
            }
            group.addTask { [weak self] in
                for await _ in spill {
                    guard let self else { return }
                    await self.spill(all: false)
                }
            }
            group.addTask { [weak self] in
                while !Task.isCancelled, await self?.isClosing == false {
                    try? await Task.sleep(for: .seconds(clamping: tick))
                    await self?.tick()
                }
            }
        }
    }

    private var isClosing: Bool { closing }

    private func tick() {
        if queue.contains(where: { $0.diskSequence == nil && !$0.spilling }) { spillWake?.yield() }
        enforceAge()
        if spool != nil, Time.monotonic() - cursorSavedAt > 1 { saveCursor() }
    }

    // MARK: Sending

    private func deliverQueue() async {
        while !queue.isEmpty, !Task.isCancelled, !closing {
            // The oldest batches, as many as the transport can have unacknowledged at once.
            let heads = Array(queue.prefix(max(1, transport.window)))
            inFlight = Set(heads.map(\.id))
            var sending: [Entry] = []
            var batches: [DeliveryBatch] = []
            for e in heads {
                if let b = await load(e) {
                    sending.append(e)
                    batches.append(b)
                } else {
                    inFlight.remove(e.id)
                }
            }
            guard !batches.isEmpty else { continue }
            let outcomes = await transport.send(group: batches)
            inFlight = []
            var failure: String?
            for (head, outcome) in zip(sending, outcomes) {
                switch outcome {
                case .delivered:
                    finish(head.id)
                    stats.deliveredBatches += 1
                    stats.deliveredSamples += head.samples
                case .refused(let why):
                    finish(head.id)
                    stats.refusedBatches += 1
                    stats.refusedSamples += head.samples
                    if let line = refusalLog.line("\(name): a batch of \(head.samples) sample(s) was refused and dropped (not retried): \(why)", at: Time.monotonic()) {
                        logger.error("\(line)")
                    }
                case .failed(let why):
                    failure = failure ?? why
                }
            }
            if failure == nil, outcomes.count < batches.count { failure = "the transport stopped after \(outcomes.count) of \(batches.count) batches" }
            guard let why = failure else {
                attempts = 0
                if let since = failingSince {
                    failingSince = nil
                    logger.notice("\(name): delivering again after \(Self.seconds(Time.monotonic() - since)); \(queue.count) batch(es) still waiting")
                }
                continue
            }
            if Task.isCancelled { return }
            stats.failedAttempts += 1
            attempts += 1
            if failingSince == nil {
                failingSince = Time.monotonic()
                wakeSubmitters()
                let whereTo = options.spoolDirectory.map { "the spool in \($0)" } ?? "memory"
                logger.warning("\(name): \(why); keeping batches in \(whereTo) and retrying with backoff")
            } else {
                logger.debug("\(name): still failing: \(why)")
            }
            spillWake?.yield()
            if closing { return }
            if attempts > options.retries { await backoff(attempts - options.retries) }
        }
    }

    /// The batch of an entry, read back from the spool if its body was released.
    private func load(_ e: Entry) async -> DeliveryBatch? {
        if let body = e.body { return DeliveryBatch(body: body, tag: e.tag, samples: e.samples) }
        guard let seq = e.diskSequence, let spool else {
            drop(e.id, reason: "damaged")
            return nil
        }
        do {
            let r = try await io.run { try spool.read(seq) }
            return DeliveryBatch(body: r.body, tag: r.tag, samples: r.samples)
        } catch {
            once.log(logger, .error, key: "damaged", "\(name): \(error); the batch is dropped")
            drop(e.id, reason: "damaged")
            return nil
        }
    }

    /// Waits before the next attempt; probes the far end meanwhile and returns early when it answers.
    private func backoff(_ attempt: Int) async {
        let base = min(options.backoffMax, options.backoffInitial * Double(1 << min(attempt - 1, 20)))
        let deadline = Time.monotonic() + base * Double.random(in: 0.5...1.5)
        while !Task.isCancelled, !closing {
            let left = deadline - Time.monotonic()
            if left <= 0 { return }
            try? await Task.sleep(for: .seconds(clamping: min(options.probeInterval, left)))
            if Time.monotonic() < deadline, !closing, await transport.probe() {
                logger.debug("\(name): far end answers again; retrying now")
                return
            }
        }
    }

    /// Removes a finished entry and moves the spool's cursor.
    private func finish(_ id: UInt64) {
        guard let i = queue.firstIndex(where: { $0.id == id }) else { return }
        let e = queue.remove(at: i)
        if e.body != nil { heldBytes -= e.bytes }
        if e.diskSequence != nil {
            diskBytes -= e.bytes
            advanceCursor()
        } else {
            unspooledBytes -= e.bytes
            wakeSubmitters()
        }
    }

    private func drop(_ id: UInt64, reason: String) {
        guard let e = queue.first(where: { $0.id == id }) else { return }
        finish(id)
        stats.droppedBatches += 1
        stats.droppedSamples[reason, default: 0] += e.samples
    }

    // MARK: Spooling

    private func openSpool() async {
        guard !spoolOpened, !spoolOpening, let dir = options.spoolDirectory else { return }
        spoolOpening = true
        defer { spoolOpening = false }
        let logger = self.logger
        do {
            let log = try await io.run { try SpoolLog(directory: dir, logger: logger) }
            spool = log
            spoolOpened = true
            lastDiskSequence = log.nextSequence - 1
            // What a previous run left goes out first, in order.
            var recovered: [Entry] = []
            for p in log.recovered {
                recovered.append(Entry(id: nextID, body: nil, tag: "", samples: p.samples, bytes: p.bytes, created: p.created,
                                       enqueued: Time.monotonic(), diskSequence: p.sequence))
                nextID += 1
                diskBytes += p.bytes
            }
            queue.insert(contentsOf: recovered, at: 0)
            if spoolProblem != nil {
                spoolProblem = nil
            }
        } catch {
            spoolRetryAt = Time.monotonic() + 5
            noteSpoolProblem("\(error)")
        }
    }

    /// Writes memory-only entries to the spool: all of them when the far end fails or on close; else
    /// those older than `spoolAfter`, and the oldest while memory is over its bound. Spills run one at
    /// a time and take the oldest entries first, so records on disk are in queue order and the spooled
    /// entries are always a prefix of the queue.
    private func spill(all: Bool) async {
        while spillBusy { await withCheckedContinuation { spillWaiters.append($0) } }
        spillBusy = true
        defer {
            spillBusy = false
            let waiters = spillWaiters
            spillWaiters = []
            for w in waiters { w.resume() }
        }
        if !spoolOpened {
            if options.spoolDirectory != nil, Time.monotonic() >= spoolRetryAt { await openSpool() }
        }
        enforceAge()
        guard let spool, Time.monotonic() >= spoolRetryAt else {
            enforceMemory()
            return
        }
        let now = Time.monotonic()
        let everything = all || closing || failingSince != nil || options.spoolAfter <= 0
        var excess = heldBytes - options.memoryBytes
        var chosen: [UInt64] = []
        var records: [SpoolLog.Record] = []
        var bytes = 0
        for e in queue where e.diskSequence == nil && !e.spilling {
            guard let body = e.body else { continue }
            guard everything || now - e.enqueued >= options.spoolAfter || excess > 0 else { break }
            chosen.append(e.id)
            records.append(SpoolLog.Record(tag: e.tag, body: body, samples: e.samples, created: e.created))
            bytes += e.bytes
            excess -= e.bytes
        }
        guard !chosen.isEmpty else { return }
        if let problem = spaceProblem(adding: bytes, spool: spool) {
            spoolRetryAt = now + 5
            noteSpoolProblem(problem)
            enforceMemory()
            return
        }
        setSpilling(chosen, true)
        do {
            let toWrite = records
            let sequences = try await io.run { try spool.append(toWrite) }
            lastDiskSequence = sequences.last ?? lastDiskSequence
            for (id, seq) in zip(chosen, sequences) {
                guard let i = queue.firstIndex(where: { $0.id == id }) else { continue }
                queue[i].diskSequence = seq
                queue[i].spilling = false
                diskBytes += queue[i].bytes
                unspooledBytes -= queue[i].bytes
            }
            wakeSubmitters()
            stats.spoolWrites += sequences.count
            if let p = spoolProblem {
                spoolProblem = nil
                logger.notice("\(name): the spool can be written again (was: \(p))")
            }
            advanceCursor()
            enforceDiskBound()
            releaseBodies()
        } catch {
            setSpilling(chosen, false)
            spoolRetryAt = Time.monotonic() + 5
            noteSpoolProblem("\(error)")
            enforceMemory()
        }
    }

    private func setSpilling(_ ids: [UInt64], _ value: Bool) {
        let set = Set(ids)
        for i in queue.indices where set.contains(queue[i].id) { queue[i].spilling = value }
    }

    private func noteSpoolProblem(_ problem: String) {
        if spoolProblem == nil {
            logger.error("\(name): cannot write the spool (\(problem)); keeping batches in memory (up to \(options.memoryBytes >> 20) MiB) and delivering them while the far end answers")
        }
        spoolProblem = problem
    }

    /// Why `bytes` more must not go to disk now (the filesystem's reserve), or nil.
    private func spaceProblem(adding bytes: Int, spool: SpoolLog) -> String? {
        guard let space = spool.filesystemSpace(), space.total > 0 else { return nil }
        let reserve = Int(Double(space.total) * options.filesystemReserve)
        if space.free - bytes < reserve {
            return "its filesystem has \(space.free) bytes free, and \(reserve) are kept free"
        }
        return nil
    }

    /// The spool's bound now: fixed, or room for `spoolHoldSeconds` of the measured output.
    var spoolLimit: Int {
        if let fixed = options.spoolMaxBytes { return fixed }
        let measured = rate.bytesPerSecond * options.spoolHoldSeconds
        return max(DeliveryOptions.minimumSpoolBytes, Int(min(measured, Double(Int.max / 2))))
    }

    private func enforceDiskBound() {
        let limit = spoolLimit
        guard diskBytes > limit else { return }
        var dropped = 0
        var droppedSamples = 0
        for e in queue where e.diskSequence != nil && !inFlight.contains(e.id) {
            guard diskBytes > limit else { break }
            drop(e.id, reason: "spool_full")
            dropped += 1
            droppedSamples += e.samples
        }
        if dropped > 0 {
            once.log(logger, .error, key: "spool_full",
                     "\(name): the spool reached its bound of \(limit) bytes; dropping the oldest batches (\(droppedSamples) sample(s) now; counted in dropped samples)")
        }
    }

    private func enforceAge() {
        let cutoff = Date().timeIntervalSince1970 - options.spoolMaxAge
        var dropped = 0
        for e in queue where e.created < cutoff && !inFlight.contains(e.id) {
            drop(e.id, reason: "max_age")
            dropped += e.samples
        }
        if dropped > 0 {
            once.log(logger, .error, key: "max_age", "\(name): dropping batches older than \(Int(options.spoolMaxAge)) s (\(dropped) sample(s) now; counted in dropped samples)")
        }
    }

    /// Frees memory: bodies of spooled entries first (they can be read back), then, when nothing can be
    /// spooled, the oldest waiting batches.
    private func enforceMemory() {
        releaseBodies()
        guard heldBytes > options.memoryBytes else { return }
        var dropped = 0
        for e in queue where e.diskSequence == nil && !inFlight.contains(e.id) && !e.spilling {
            guard heldBytes > options.memoryBytes else { break }
            drop(e.id, reason: "memory")
            dropped += e.samples
        }
        if dropped > 0 {
            once.log(logger, .error, key: "memory", "\(name): memory bound of \(options.memoryBytes) bytes reached with no usable spool; dropping the oldest batches (\(dropped) sample(s) now; counted in dropped samples)")
        }
    }

    /// Releases bodies of spooled entries, newest first, while memory is over its bound (the head keeps
    /// its body: it is about to be sent).
    private func releaseBodies() {
        guard heldBytes > options.memoryBytes, queue.count > 1 else { return }
        for i in queue.indices.reversed() where i > 0 {
            guard heldBytes > options.memoryBytes else { return }
            if queue[i].diskSequence != nil, queue[i].body != nil, !inFlight.contains(queue[i].id) {
                queue[i].body = nil
                heldBytes -= queue[i].bytes
            }
        }
    }

    /// Everything on disk before the oldest waiting spooled entry is done.
    private func advanceCursor() {
        guard let spool else { return }
        let through = queue.first(where: { $0.diskSequence != nil })?.diskSequence.map { $0 - 1 } ?? lastDiskSequence
        io.async { spool.markDone(through: through) }
    }

    private func saveCursor() {
        guard let spool else { return }
        cursorSavedAt = Time.monotonic()
        io.async { spool.saveCursor() }
    }

    // MARK: Flush and close

    /// Waits until everything submitted so far is delivered, or — while the far end fails — written
    /// to the spool (or, with no usable spool, held in memory). Returns within `timeout` seconds.
    public func flush(timeout: Double = 30) async {
        let deadline = Time.monotonic() + timeout
        while !queue.isEmpty, Time.monotonic() < deadline {
            if failingSince != nil || closed {
                await spill(all: true)
                if !queue.contains(where: { $0.diskSequence == nil }) || spool == nil || spoolProblem != nil { return }
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Delivers what it can within `grace` seconds, writes the rest to the spool, and stops. Batches
    /// that could not be spooled are counted as dropped (`shutdown`) and logged.
    public func close(grace: Double) async {
        guard !closed else { return }
        if started {
            let deadline = Time.monotonic() + grace
            while !queue.isEmpty, failingSince == nil, Time.monotonic() < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        closing = true
        wakeSubmitters()
        // The loops end: their streams finish; an attempt in flight gets its own timeout to finish.
        workWake?.finish()
        spillWake?.finish()
        let inFlightDeadline = Time.monotonic() + grace + 30
        while !inFlight.isEmpty, Time.monotonic() < inFlightDeadline { try? await Task.sleep(for: .milliseconds(10)) }
        standalone?.cancel()
        await standalone?.value
        if !spoolOpened, options.spoolDirectory != nil, !queue.isEmpty { await openSpool() }
        spoolRetryAt = 0
        await spill(all: true)
        let lost = queue.filter { $0.diskSequence == nil }
        if !lost.isEmpty {
            let samples = lost.reduce(0) { $0 + $1.samples }
            logger.error("\(name): \(lost.count) batch(es), \(samples) sample(s), could not be spooled at shutdown and are lost (\(spoolProblem ?? "no spool configured"))")
            for e in lost { drop(e.id, reason: "shutdown") }
        }
        if let spool {
            let through = queue.first(where: { $0.diskSequence != nil })?.diskSequence.map { $0 - 1 } ?? lastDiskSequence
            await io.run {
                spool.markDone(through: through)
                spool.saveCursor()
            }
            // Releases the directory's lock for a publisher a later reload brings back.
            self.spool = nil
        }
        closed = true
        await transport.shutdown()
        let waiters = endWaiters
        endWaiters = []
        for w in waiters { w.resume() }
    }

    // MARK: Counters

    public var statistics: DeliveryStatistics {
        var s = stats
        s.queuedBatches = queue.count
        s.queuedSamples = queue.reduce(0) { $0 + $1.samples }
        s.spooledBatches = queue.reduce(0) { $0 + ($1.diskSequence != nil ? 1 : 0) }
        s.spoolBytes = diskBytes
        s.memoryBytes = heldBytes
        s.failing = failingSince != nil
        s.spoolProblem = spoolProblem
        s.spoolLimit = spoolLimit
        return s
    }

    static func seconds(_ s: Double) -> String { s < 10 ? String(format: "%.1f s", s) : "\(Int(s)) s" }
}

/// Average bytes per second of a delivery's intake, over windows of a minute (for the automatic spool
/// bound).
struct RateMeter {
    private var windowStart = 0.0
    private var windowBytes = 0
    private(set) var bytesPerSecond = 0.0

    mutating func record(bytes: Int, at now: Double) {
        if windowStart == 0 {
            windowStart = now  // the first batch opens the window
            return
        }
        windowBytes += bytes
        let elapsed = now - windowStart
        if elapsed >= 60 {
            let current = Double(windowBytes) / elapsed
            bytesPerSecond = bytesPerSecond == 0 ? current : 0.7 * bytesPerSecond + 0.3 * current
            windowStart = now
            windowBytes = 0
        } else if bytesPerSecond == 0, elapsed >= 5 {
            bytesPerSecond = Double(windowBytes) / elapsed
        }
    }
}

/// One log line per interval for a repeating event, with how many were not logged in between.
struct RateLimitedLog {
    let interval: Double
    private var lastAt = -Double.infinity
    private var suppressed = 0

    init(interval: Double) { self.interval = interval }

    mutating func line(_ text: String, at now: Double) -> String? {
        guard now - lastAt >= interval else {
            suppressed += 1
            return nil
        }
        lastAt = now
        defer { suppressed = 0 }
        return suppressed > 0 ? "\(text) (and \(suppressed) more like it since the last such line)" : text
    }
}
