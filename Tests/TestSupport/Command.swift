import Foundation

/// Runs programs for tests: the built `nephometer` binary, `virsh`, daemons.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
}

public enum Command {
    /// The `nephometer` executable built next to the test bundle.
    public static var nephometer: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nephometer").path,
            Fixtures.root.appendingPathComponent(".build/debug/nephometer").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    /// Runs to completion (killed after `timeout` seconds), capturing output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: String? = nil, stdin: String? = nil, timeout: Double = 120) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : try which(executable))
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(stdin.data(using: .utf8) ?? Data()) }
        try? input.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let outData = LockedData(), errData = LockedData()
        let group = DispatchGroup()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        group.wait()
        return CommandResult(status: p.terminationStatus,
                             stdout: String(decoding: outData.get(), as: UTF8.self),
                             stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    public static func nephometer(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
                                  stdin: String? = nil, timeout: Double = 120) throws -> CommandResult {
        try run(nephometer, arguments, environment: environment, directory: directory, stdin: stdin, timeout: timeout)
    }

    public static func which(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let dirs: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for dir in dirs {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw MissingProgram(name: name)
    }

    public struct MissingProgram: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "\(name) is not installed (run `make test`, which installs the test dependencies)" }
    }
}

final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// A process running in the background for the length of a test (agents, receivers, daemons).
public final class BackgroundProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], logDirectory: String, name: String,
                directory: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        stdoutPath = "\(logDirectory)/\(name).out"
        stderrPath = "\(logDirectory)/\(name).err"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        ProcessReaper.register(pid: process.processIdentifier, name: "\((executable as NSString).lastPathComponent) \(name)")
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit up to `timeout` seconds; returns the exit status, or nil if still running.
    @discardableResult
    public func wait(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        return process.terminationStatus
    }

    public func stop() {
        if process.isRunning {
            signal(SIGTERM)
            if wait(timeout: 10) == nil { signal(SIGKILL); wait(timeout: 5) }
        }
        if !process.isRunning { ProcessReaper.unregister(pid: process.processIdentifier) }
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    deinit { stop() }
}

/// Polls `condition` until true or `timeout` seconds pass.
public func eventually(timeout: Double, interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    } while Date() < deadline
    return try condition()
}

/// A command's result with its peak memory and wall time (GNU time, from Debian's `time` package).
public struct MeasuredResult: Sendable {
    public let result: CommandResult
    public let peakMiB: Double
    public let seconds: Double
}

extension Command {
    /// Runs the `nephometer` binary under `/usr/bin/time`, reporting peak RSS and wall time.
    public static func nephometerMeasured(_ arguments: [String], stdin: String? = nil, timeout: Double = 60) throws -> MeasuredResult {
        let time = "/usr/bin/time"
        guard FileManager.default.isExecutableFile(atPath: time) else { throw MissingProgram(name: "time (GNU time, Debian package time)") }
        let r = try run(time, ["-f", "NEPHOMETER-TIME %M %e", nephometer] + arguments, stdin: stdin, timeout: timeout)
        var lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last == "" { lines.removeLast() }
        guard let last = lines.last, last.hasPrefix("NEPHOMETER-TIME ") else {
            return MeasuredResult(result: r, peakMiB: .infinity, seconds: timeout)
        }
        lines.removeLast()
        let parts = last.split(separator: " ")
        let kib = Double(parts[1]) ?? .infinity
        let secs = Double(parts[2]) ?? .infinity
        // `time` reports a signal death as "Command terminated by signal N" on the line before.
        return MeasuredResult(result: CommandResult(status: r.status, stdout: r.stdout, stderr: lines.joined(separator: "\n")),
                              peakMiB: kib / 1024, seconds: secs)
    }
}
