import Foundation
import Logging
import NephometerCore

/// A delivery's on-disk queue: an append-only log of batches in segment files, with a cursor that says
/// how far delivery got.
///
/// Layout of a spool directory: `<first sequence, 20 digits>.seg` segment files and a `cursor` file with
/// the highest sequence that is done (delivered, refused or dropped). A record is a 36-byte header
/// (magic, payload length, CRC-32 of the payload, tag length, sequence, creation time, sample count)
/// followed by the tag and the body. Appends are one `write` per group of records followed by one
/// `fsync`, so what `append` returned is on disk and survives `kill -9` and a power loss. A record cut
/// short by a crash fails its length or CRC check and is cut off when the log is opened. Segments whose
/// records are all done are deleted.
///
/// Not thread-safe: a `Delivery` uses its log only on its own `BlockingQueue`.
final class SpoolLog: @unchecked Sendable {  // confined to the owning delivery's BlockingQueue
    struct Record: Sendable {
        var tag: String
        var body: [UInt8]
        var samples: Int
        var created: Double
    }

    /// A record waiting on disk, as found when the log was opened.
    struct Pending: Sendable {
        let sequence: UInt64
        let bytes: Int
        let samples: Int
        let created: Double
    }

    private struct Segment {
        let first: UInt64
        var last: UInt64
        let path: String
        var size: Int
    }

    private struct Location {
        let segment: UInt64
        let offset: Int
        let length: Int
    }

    static let magic: UInt32 = 0x3153_504E  // "NPS1" little-endian
    static let headerSize = 36
    /// Largest record accepted when reading back (a corrupt length must not allocate gigabytes).
    static let maxRecordBytes = 256 << 20

    let directory: String
    let segmentBytes: Int
    let logger: Logger
    private var segments: [Segment] = []
    private var locations: [UInt64: Location] = [:]
    private var activeFD: Int32 = -1
    private(set) var nextSequence: UInt64 = 1
    private(set) var cursor: UInt64 = 0
    private var cursorWritten: UInt64 = 0
    /// Records waiting on disk when the log was opened, oldest first.
    private(set) var recovered: [Pending] = []
    /// Records found damaged (and skipped) when the log was opened.
    private(set) var damaged = 0

    init(directory: String, segmentBytes: Int = 16 << 20, logger: Logger) throws {
        self.directory = directory
        self.segmentBytes = max(4096, segmentBytes)
        self.logger = logger
        try Self.makeDirectory(directory)
        lockFD = try Self.lock(directory)
        cursor = Self.readCursor("\(directory)/cursor")
        cursorWritten = cursor
        try scan()
        try importLegacyFiles()
    }

    deinit {
        if activeFD >= 0 { close(activeFD) }
        close(lockFD)  // releases the lock
    }

    /// The directory's `lock` file, locked for this process (`flock`, released when the process
    /// exits): two agents sharing a spool directory and a publisher URL would overwrite each
    /// other's records. The holder's pid is written into it for the error message.
    private let lockFD: Int32

    private static func lock(_ directory: String) throws -> Int32 {
        let path = "\(directory)/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open \(path): \(errnoText())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let why = errno == EWOULDBLOCK ? "in use by another process" : errnoText()
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, buf.count, 0)
            let holder = n > 0 ? String(decoding: buf.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            close(fd)
            throw SpoolError("spool \(directory) is \(why)\(holder.isEmpty ? "" : " (pid \(holder))"); give each agent its own spool_directory")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        return fd
    }

    // MARK: Writing

    /// Appends records durably: one write, then fsync. Returns their sequences. On failure nothing of
    /// this call stays in the log.
    func append(_ records: [Record]) throws -> [UInt64] {
        guard !records.isEmpty else { return [] }
        let fd = try activeSegment()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(records.reduce(0) { $0 + Self.headerSize + $1.tag.utf8.count + $1.body.count })
        var sequences: [UInt64] = []
        var offsets: [(Int, Int)] = []
        let start = segments[segments.count - 1].size
        var seq = nextSequence
        for r in records {
            let tag = Array(r.tag.utf8.prefix(Int(UInt16.max)))
            var payload = tag
            payload += r.body
            let offset = start + buffer.count
            Self.put(&buffer, Self.magic)
            Self.put(&buffer, UInt32(payload.count))
            Self.put(&buffer, CRC32.checksum(payload))
            Self.put(&buffer, UInt16(tag.count))
            Self.put(&buffer, UInt16(0))
            Self.put(&buffer, seq)
            Self.put(&buffer, r.created.bitPattern)
            Self.put(&buffer, UInt32(clamping: r.samples))
            buffer += payload
            sequences.append(seq)
            offsets.append((offset, Self.headerSize + payload.count))
            seq += 1
        }
        do {
            try Self.writeAll(fd, buffer)
            guard fsync(fd) == 0 else { throw SpoolError("fsync of \(segments[segments.count - 1].path) failed: \(Self.errnoText())") }
        } catch {
            // Leave no partial record behind.
            _ = ftruncate(fd, off_t(start))
            throw error
        }
        let first = segments[segments.count - 1].first
        for (i, s) in sequences.enumerated() {
            locations[s] = Location(segment: first, offset: offsets[i].0, length: offsets[i].1)
        }
        segments[segments.count - 1].size = start + buffer.count
        segments[segments.count - 1].last = seq - 1
        nextSequence = seq
        return sequences
    }

    private func activeSegment() throws -> Int32 {
        if activeFD >= 0, let last = segments.last, last.size < segmentBytes { return activeFD }
        if activeFD >= 0 { close(activeFD); activeFD = -1 }
        if let last = segments.last, last.size < segmentBytes {
            activeFD = open(last.path, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard activeFD >= 0 else { throw SpoolError("cannot open \(last.path): \(Self.errnoText())") }
            return activeFD
        }
        let path = "\(directory)/\(Self.segmentName(nextSequence))"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot create \(path): \(Self.errnoText())") }
        Self.syncDirectory(directory)
        activeFD = fd
        segments.append(Segment(first: nextSequence, last: nextSequence - 1, path: path, size: 0))
        return fd
    }

    // MARK: Reading

    func read(_ sequence: UInt64) throws -> Record {
        guard let loc = locations[sequence], let seg = segments.first(where: { $0.first == loc.segment }) else {
            throw SpoolError("record \(sequence) is not in the spool")
        }
        let fd = open(seg.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError("cannot open \(seg.path): \(Self.errnoText())") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: loc.length)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, loc.length, off_t(loc.offset)) }
        guard n == loc.length, case .record(let record, _, _) = Self.decode(bytes[...]) else {
            throw SpoolError("batch \(sequence) in \(seg.path) is damaged")
        }
        return record
    }

    // MARK: Progress

    /// Everything up to `sequence` is done; fully done segments are deleted.
    func markDone(through sequence: UInt64) {
        guard sequence > cursor else { return }
        cursor = min(sequence, nextSequence - 1)
        for s in locations.keys where s <= cursor { locations[s] = nil }
        while let first = segments.first, first.last <= cursor, first.last >= first.first {
            if segments.count == 1, activeFD >= 0 { close(activeFD); activeFD = -1 }
            unlink(first.path)
            segments.removeFirst()
        }
    }

    /// Writes the cursor file (not fsync'd: after a crash an older cursor only means batches sent twice).
    func saveCursor() {
        guard cursor != cursorWritten else { return }
        let tmp = "\(directory)/cursor.tmp"
        let text = Array("\(cursor)\n".utf8)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let ok = (try? Self.writeAll(fd, text)) != nil
        close(fd)
        if ok, rename(tmp, "\(directory)/cursor") == 0 { cursorWritten = cursor } else { unlink(tmp) }
    }

    /// Bytes the log's segment files take on disk.
    var bytesOnDisk: Int { segments.reduce(0) { $0 + $1.size } }

    /// Free bytes on the spool's filesystem, and its size.
    func filesystemSpace() -> (free: Int, total: Int)? {
        var s = statvfs()
        guard statvfs(directory, &s) == 0 else { return nil }
        let block = Int(s.f_frsize)
        return (Int(clamping: UInt64(s.f_bavail).multipliedReportingOverflow(by: UInt64(block)).partialValue),
                Int(clamping: UInt64(s.f_blocks).multipliedReportingOverflow(by: UInt64(block)).partialValue))
    }

    // MARK: Opening

    private func scan() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let firsts = names.compactMap { n -> UInt64? in n.hasSuffix(".seg") ? UInt64(n.dropLast(4)) : nil }.sorted()
        var lastSeen: UInt64 = cursor
        for first in firsts {
            let path = "\(directory)/\(Self.segmentName(first))"
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            var bytes = [UInt8](data)
            var offset = 0
            var seg = Segment(first: first, last: first &- 1, path: path, size: 0)
            while offset < bytes.count {
                let parsed: (record: Record, sequence: UInt64, length: Int)
                switch Self.decode(bytes[offset...]) {
                case .record(let r, let seq, let length):
                    parsed = (r, seq, length)
                case .damaged(let seq, let length):
                    logger.error("spool \(directory): batch \(seq) in \(Self.segmentName(first)) is damaged (CRC mismatch); skipped")
                    damaged += 1
                    seg.last = seq
                    lastSeen = max(lastSeen, seq)
                    offset += length
                    continue
                case .invalid:
                    logger.warning("spool \(directory): \(Self.segmentName(first)) has \(bytes.count - offset) unreadable byte(s) at its end (an interrupted write); cut off")
                    _ = truncate(path, off_t(offset))
                    bytes.removeSubrange(offset...)
                    continue
                }
                let seq = parsed.sequence
                if seq > cursor {
                    locations[seq] = Location(segment: first, offset: offset, length: parsed.length)
                    recovered.append(Pending(sequence: seq, bytes: parsed.length, samples: parsed.record.samples,
                                             created: parsed.record.created))
                }
                seg.last = seq
                lastSeen = max(lastSeen, seq)
                offset += parsed.length
            }
            seg.size = offset
            if seg.last <= cursor && first != firsts.last {
                unlink(path)
                continue
            }
            segments.append(seg)
        }
        nextSequence = lastSeen + 1
        if !recovered.isEmpty {
            let bytes = recovered.reduce(0) { $0 + $1.bytes }
            logger.notice("spool \(directory): \(recovered.count) batch(es), \(bytes) bytes waiting from a previous run")
        }
    }

    /// Batches spooled by versions before the segment log (one `<sequence>.json` file each) are moved
    /// into the log once.
    private func importLegacyFiles() throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
        guard !names.isEmpty else { return }
        var records: [Record] = []
        for n in names {
            if let d = FileManager.default.contents(atPath: "\(directory)/\(n)") {
                records.append(Record(tag: "", body: [UInt8](d), samples: 0, created: Date().timeIntervalSince1970))
            }
        }
        let seqs = try append(records)
        for (i, s) in seqs.enumerated() {
            recovered.append(Pending(sequence: s, bytes: records[i].body.count, samples: 0, created: records[i].created))
        }
        for n in names { unlink("\(directory)/\(n)") }
        for n in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []) where n.hasSuffix(".json.tmp") {
            unlink("\(directory)/\(n)")
        }
        logger.notice("spool \(directory): moved \(names.count) batch(es) of an earlier version into the spool log")
    }

    // MARK: Encoding

    static func segmentName(_ first: UInt64) -> String {
        let s = String(first)
        return String(repeating: "0", count: max(0, 20 - s.count)) + s + ".seg"
    }

    enum Decoded {
        case record(Record, sequence: UInt64, length: Int)
        /// A well-framed record whose payload fails its CRC.
        case damaged(sequence: UInt64, length: Int)
        /// No record here (bad magic, impossible length, cut short).
        case invalid
    }

    static func decode(_ b: ArraySlice<UInt8>) -> Decoded {
        guard b.count >= headerSize else { return .invalid }
        let base = b.startIndex
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[base + at + $1]) << (8 * UInt32($1)) } }
        func u16(_ at: Int) -> UInt16 { UInt16(b[base + at]) | UInt16(b[base + at + 1]) << 8 }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[base + at + $1]) << (8 * UInt64($1)) } }
        guard u32(0) == magic else { return .invalid }
        let payloadLength = Int(u32(4))
        let tagLength = Int(u16(12))
        guard payloadLength <= maxRecordBytes, tagLength <= payloadLength, b.count >= headerSize + payloadLength else { return .invalid }
        let payload = b[(base + headerSize)..<(base + headerSize + payloadLength)]
        guard CRC32.checksum(payload) == u32(8) else { return .damaged(sequence: u64(16), length: headerSize + payloadLength) }
        let tag = String(decoding: payload.prefix(tagLength), as: UTF8.self)
        let record = Record(tag: tag, body: Array(payload.dropFirst(tagLength)), samples: Int(u32(32)),
                            created: Double(bitPattern: u64(24)))
        return .record(record, sequence: u64(16), length: headerSize + payloadLength)
    }

    static func put<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                guard let base = raw.baseAddress else { return }
                let n = write(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SpoolError(errnoText())
                }
                offset += n
            }
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw SpoolError("cannot create spool directory \(path): \(error.localizedDescription)")
        }
        guard access(path, W_OK) == 0 else { throw SpoolError("spool directory \(path) is not writable: \(errnoText())") }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func readCursor(_ path: String) -> UInt64 {
        guard let d = FileManager.default.contents(atPath: path) else { return 0 }
        return UInt64(String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}

public struct SpoolError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}

/// CRC-32 (IEEE 802.3, as zlib), for spool records.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
