import Foundation
import Logging
import NephometerCore

/// An on-disk FIFO of request bodies for one publisher: what the pipeline handed over is on disk before
/// `publish` returns, so it survives an agent restart and a `kill -9`.
///
/// One file per batch, `<sequence>.json`, written to a temporary name and renamed, so a crash leaves
/// either a whole entry or none. Bounded by total size and by age: when a bound is hit the oldest
/// entries are dropped, counted and logged with the count.
public final class Spool: @unchecked Sendable {
    public struct Limits: Sendable, Hashable {
        public var maxBytes: Int
        public var maxAge: Double
        public init(maxBytes: Int = 100 << 20, maxAge: Double = 86_400) {
            self.maxBytes = maxBytes
            self.maxAge = maxAge
        }
    }

    public struct Entry: Sendable {
        public let sequence: UInt64
        public let body: [UInt8]
        /// Wall-clock seconds when it was spooled.
        public let created: Double
    }

    public let directory: String
    public let limits: Limits
    private let lock = NSLock()
    private var sequences: [UInt64] = []
    private var sizes: [UInt64: Int] = [:]
    private var created: [UInt64: Double] = [:]
    private var totalBytes = 0
    private var next: UInt64 = 1
    private let logger: Logger
    /// Entries dropped because a bound was hit.
    public private(set) var dropped = 0

    public init(directory: String, limits: Limits, logger: Logger) throws {
        self.directory = directory
        self.limits = limits
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let path = "\(directory)/\(name)"
            if name.hasSuffix(".tmp") { try? FileManager.default.removeItem(atPath: path); continue }
            guard name.hasSuffix(".json"), let seq = UInt64(name.dropLast(5)) else { continue }
            let attrs = try? FileManager.default.attributesOfItem(atPath: path)
            sizes[seq] = (attrs?[.size] as? Int) ?? 0
            created[seq] = (attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? Date().timeIntervalSince1970
            sequences.append(seq)
        }
        sequences.sort()
        totalBytes = sizes.values.reduce(0, +)
        next = (sequences.last ?? 0) + 1
        if !sequences.isEmpty {
            logger.notice("spool \(directory): \(sequences.count) batch(es), \(totalBytes) bytes waiting from a previous run")
        }
    }

    public var count: Int { lock.withLock { sequences.count } }
    public var bytes: Int { lock.withLock { totalBytes } }

    private func path(_ seq: UInt64) -> String { "\(directory)/\(String(format: "%020llu", seq)).json" }

    /// Appends a body durably (written and renamed before returning).
    public func append(_ body: [UInt8]) throws {
        let seq: UInt64 = lock.withLock { defer { next += 1 }; return next }
        let final = path(seq), tmp = final + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var offset = 0
        let ok = body.withUnsafeBytes { raw -> Bool in
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        close(fd)
        guard ok, rename(tmp, final) == 0 else {
            unlink(tmp)
            throw SpoolError("cannot write \(final): \(String(cString: strerror(errno)))")
        }
        lock.withLock {
            sequences.append(seq)
            sizes[seq] = body.count
            created[seq] = Date().timeIntervalSince1970
            totalBytes += body.count
        }
        enforceLimits()
    }

    /// The oldest entry, read from disk.
    public func oldest() -> Entry? {
        enforceLimits()
        guard let seq = lock.withLock({ sequences.first }) else { return nil }
        guard let data = FileManager.default.contents(atPath: path(seq)) else {
            remove(seq)
            return oldest()
        }
        return Entry(sequence: seq, body: Array(data), created: lock.withLock { created[seq] ?? 0 })
    }

    /// Removes a delivered (or permanently refused) entry.
    public func remove(_ seq: UInt64) {
        unlink(path(seq))
        lock.withLock {
            if let i = sequences.firstIndex(of: seq) { sequences.remove(at: i) }
            totalBytes -= sizes.removeValue(forKey: seq) ?? 0
            created[seq] = nil
        }
    }

    /// Drops the oldest entries while the spool is over its size bound or they are older than its age bound.
    private func enforceLimits() {
        let now = Date().timeIntervalSince1970
        var victims: [UInt64] = []
        var reason = ""
        lock.withLock {
            var bytes = totalBytes
            for seq in sequences {
                let tooOld = now - (created[seq] ?? now) > limits.maxAge
                let tooBig = bytes > limits.maxBytes && sequences.count - victims.count > 1
                guard tooOld || tooBig else { break }
                reason = tooOld ? "older than \(Int(limits.maxAge)) s" : "over \(limits.maxBytes) bytes"
                victims.append(seq)
                bytes -= sizes[seq] ?? 0
            }
        }
        guard !victims.isEmpty else { return }
        for seq in victims { remove(seq) }
        lock.withLock { dropped += victims.count }
        logger.error("spool \(directory): dropped the \(victims.count) oldest batch(es) (\(reason)); \(dropped) dropped in all")
    }
}

public struct SpoolError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
