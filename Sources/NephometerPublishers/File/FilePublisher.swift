import Foundation
import Logging
import NephometerCore

/// `file:///path?max_bytes=N&backup_count=M&json&fsync=never|batch|always`: one JSON sample dict a line.
///
/// Lines are Ceilometer's `json.dumps(sample.as_dict())`. With both `max_bytes` and `backup_count`, the
/// file rotates like Python's RotatingFileHandler (`path` → `path.1` → … → `path.M`). Writes are
/// `O_APPEND` and rotation happens under an exclusive `flock`, so several processes may share a file.
public final class FilePublisher: Publisher {
    public struct Options: Sendable, Hashable {
        public var path: String
        public var maxBytes: Int = 0
        public var backupCount: Int = 0
        public var fsync: FsyncPolicy = .never
    }

    public enum FsyncPolicy: String, Sendable, Hashable, CaseIterable {
        /// Leave flushing to the kernel (Ceilometer's behaviour).
        case never
        /// fsync once per published batch.
        case batch
        /// fsync after every line.
        case always
    }

    /// Rotation renames every backup: their number is bounded.
    public static let maxBackupCount = 1_000

    public let displayURL: String
    let options: Options
    /// The file, its descriptor and rotation: used only on `io`, a thread of its own (writes, `flock`
    /// and `fsync` block; none of them may run on Swift's cooperative pool).
    private let writer: FileWriter
    private let io = BlockingQueue(label: "nephometer.file-publisher")

    public init(url: PublisherURL, logger: Logger) throws(PublisherURLError) {
        options = try Self.parse(url)
        displayURL = url.redacted
        writer = FileWriter(options: options, logger: logger)
    }

    public func publish(_ samples: [Sample]) async {
        guard !samples.isEmpty else { return }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(samples.count * 1200)
        var lines: [Range<Int>] = []
        for s in samples {
            let start = buffer.count
            s.writeJSON(into: &buffer)
            buffer.append(0x0A)
            lines.append(start..<buffer.count)
        }
        let data = buffer, ranges = lines, writer = self.writer
        await io.run { writer.write(data, lines: ranges) }
    }

    public func flush() async {
        let writer = self.writer
        await io.run { writer.flush() }
    }

    public func close() async {
        let writer = self.writer
        await io.run { writer.close() }
    }

    /// Parses and checks the URL's options, and that the file can be written (without creating anything).
    public static func parse(_ url: PublisherURL) throws(PublisherURLError) -> Options {
        var path = url.path
        if !url.host.isEmpty {
            // file://relative/path: Ceilometer uses netloc + path as the file name.
            path = url.host + url.path
        }
        guard !path.isEmpty else { throw PublisherURLError("file publisher needs a path (file:///var/log/nephometer/samples.log)") }
        var o = Options(path: path)
        let known = ["max_bytes", "backup_count", "json", "fsync"]
        for (k, _) in url.query where !known.contains(k) {
            throw PublisherURLError("unknown file publisher option '\(k)'\(hint(k, known)); expected one of: \(known.joined(separator: ", "))")
        }
        let mb = url.queryValue("max_bytes"), bc = url.queryValue("backup_count")
        if let mb {
            guard let v = Int(mb), (0...(1 << 50)).contains(v) else { throw PublisherURLError("max_bytes must be a whole number of bytes in 0…2^50, got '\(mb.prefix(40))'") }
            o.maxBytes = v
        }
        if let bc {
            guard let v = Int(bc), (0...Self.maxBackupCount).contains(v) else {
                throw PublisherURLError("backup_count must be a whole number in 0…\(Self.maxBackupCount), got '\(bc.prefix(40))'")
            }
            o.backupCount = v
        }
        if (mb == nil) != (bc == nil) {
            throw PublisherURLError("rotation needs both max_bytes and backup_count (got only \(mb == nil ? "backup_count" : "max_bytes"))")
        }
        if let f = url.queryValue("fsync") {
            guard let p = FsyncPolicy(rawValue: f) else {
                throw PublisherURLError("fsync must be one of never, batch, always; got '\(f)'")
            }
            o.fsync = p
        }
        if let problem = writableProblem(path) { throw PublisherURLError(problem) }
        return o
    }

    private static func hint(_ word: String, _ known: [String]) -> String { Suggestion.hint(for: word, in: known) }

    /// Why `path` cannot be written, or nil. Walks up to the first existing ancestor directory.
    static func writableProblem(_ path: String) -> String? {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { return "\(path) is a directory, not a file" }
            return access(path, W_OK) == 0 ? nil : "cannot write \(path): \(String(cString: strerror(errno)))"
        }
        var dir = (path as NSString).deletingLastPathComponent
        if dir.isEmpty { dir = "." }
        while !fm.fileExists(atPath: dir, isDirectory: &isDir) {
            let parent = (dir as NSString).deletingLastPathComponent
            if parent == dir || parent.isEmpty { break }
            dir = parent
        }
        if fm.fileExists(atPath: dir, isDirectory: &isDir), !isDir.boolValue {
            return "cannot create \(path): \(dir) is not a directory"
        }
        return access(dir, W_OK) == 0 ? nil : "cannot create \(path): directory \(dir) is not writable (\(String(cString: strerror(errno))))"
    }

}

/// The file side of a file publisher; confined to the publisher's `BlockingQueue`.
final class FileWriter: @unchecked Sendable {  // used only on the owning publisher's BlockingQueue
    let options: FilePublisher.Options
    private var fd: Int32 = -1
    private let logger: Logger
    private let once = LogOnce()

    init(options: FilePublisher.Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    deinit { if fd >= 0 { Foundation.close(fd) } }

    private func openIfNeeded() -> Bool {
        if fd >= 0 { return true }
        let dir = (options.path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        fd = open(options.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 {
            once.log(logger, .error, key: "open", "file publisher: cannot open \(options.path): \(String(cString: strerror(errno))); samples are dropped until it can")
            return false
        }
        once.clear("open")
        return true
    }

    /// Another process sharing the file may have rotated it: follow the path, not the old inode.
    private func reopenIfRotatedElsewhere() {
        guard fd >= 0 else { return }
        var mine = stat(), current = stat()
        if fstat(fd, &mine) == 0, stat(options.path, &current) != 0 || current.st_ino != mine.st_ino || current.st_dev != mine.st_dev {
            Foundation.close(fd)
            fd = -1
        }
    }

    func write(_ buffer: [UInt8], lines: [Range<Int>]) {
        reopenIfRotatedElsewhere()
        guard openIfNeeded() else { return }
        if options.maxBytes > 0 && options.backupCount > 0 {
            // Rotation is decided per line, as RotatingFileHandler does.
            for r in lines {
                rotateIfNeeded(adding: r.count)
                write(buffer[r])
                if options.fsync == .always { fsync(fd) }
            }
        } else if options.fsync == .always {
            for r in lines { write(buffer[r]); fsync(fd) }
        } else {
            write(buffer[...])
        }
        if options.fsync == .batch { fsync(fd) }
    }

    private func write(_ bytes: ArraySlice<UInt8>) {
        guard fd >= 0 else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    once.log(logger, .error, key: "write", "file publisher: write to \(options.path) failed: \(String(cString: strerror(errno)))")
                    return
                }
                offset += n
            }
            once.clear("write")
        }
    }

    /// RotatingFileHandler's rule: roll over when the current size plus the next line reaches max_bytes.
    /// Other processes may have rotated already: the size is read from the path, under an exclusive lock.
    private func rotateIfNeeded(adding count: Int) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return }
        guard Int(st.st_size) + count >= options.maxBytes, st.st_size > 0 else { return }
        // Several writers may share the file: the one holding the lock rotates, the others follow.
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        // Re-check against the path: another writer may have rotated while we waited for the lock.
        var pathStat = stat()
        if stat(options.path, &pathStat) == 0, pathStat.st_ino == st.st_ino, Int(pathStat.st_size) + count >= options.maxBytes {
            let fm = FileManager.default
            for i in stride(from: options.backupCount - 1, through: 1, by: -1) {
                let src = "\(options.path).\(i)", dst = "\(options.path).\(i + 1)"
                if fm.fileExists(atPath: src) { rename(src, dst) }
            }
            rename(options.path, "\(options.path).1")
        }
        let old = fd
        fd = open(options.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        Foundation.close(old)
    }

    func flush() {
        if fd >= 0 && options.fsync != .never { fsync(fd) }
    }

    func close() {
        if fd >= 0 {
            if options.fsync != .never { fsync(fd) }
            Foundation.close(fd)
            fd = -1
        }
    }
}
