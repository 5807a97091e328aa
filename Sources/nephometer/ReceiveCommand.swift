import ArgumentParser
import Foundation
import Logging
import NephometerReceiver
import ServiceLifecycle

struct ReceiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "Collect samples sent by udp:// and http:// publishers (Nephometer's or Ceilometer's).",
        discussion: """
            Decodes UDP msgpack meter messages and HTTP JSON sample lists, verifies signatures when a
            secret is given (UDP: each message's message_signature; HTTP: the X-Nephometer-Signature
            header over the body, or each item's message_signature), rejects and counts bad or missing
            ones, drops duplicate message ids within the window, and writes one JSON sample dict a line.
            HTTP is bounded: 64 MiB a body, 256 MiB of bodies in all (503 beyond), 256 connections,
            idle connections closed after --idle-timeout seconds; rejections are logged as one
            summary per request, and at most 10 datagram lines per 10 s.
            SIGTERM or SIGINT flushes the output and exits 0 after printing a one-line summary to stderr.

            Example:
              nephometer receive --udp 127.0.0.1:4952 --http 127.0.0.1:8080 --secret s3cret --output samples.jsonl
            """)

    @Option(help: "UDP address to listen on, HOST:PORT (port 0 picks a free one).")
    var udp: String?
    @Option(help: "HTTP address to listen on, HOST:PORT.")
    var http: String?
    @Option(help: "Telemetry secret; without it, unsigned samples are accepted.")
    var secret: String = ""
    @Option(help: "Where accepted samples go: a file (appended) or - for stdout.")
    var output: String = "-"
    @Option(help: "How many recent message ids are remembered to drop duplicates.")
    var window: Int = 1_000_000
    @Option(name: .customLong("ready-file"), help: "Write the bound ports here as JSON once listening (for scripts and tests).")
    var readyFile: String?
    @Option(name: .customLong("log-level"), help: "Log level.")
    var logLevel: String = "info"
    @Option(name: .customLong("idle-timeout"), help: "Seconds after which an idle HTTP connection is closed (1-3600).")
    var idleTimeout: Int = Int(HTTPListener.defaultIdleTimeout)

    static func split(_ address: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("expected HOST:PORT, got '\(address)'")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    func run() async throws {
        guard udp != nil || http != nil else { throw ValidationError("give --udp and/or --http") }
        guard (1...3_600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be 1…3600 seconds") }
        guard (1...100_000_000).contains(window) else { throw ValidationError("--window must be 1…100000000 message ids") }
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in KeyValueLogHandler(label: label, level: level, modules: [:]) }
        let logger = Logger(label: "nephometer.receive")
        let handle: FileHandle
        if output == "-" {
            handle = .standardOutput
        } else {
            if !FileManager.default.fileExists(atPath: output) {
                guard FileManager.default.createFile(atPath: output, contents: nil) else {
                    throw ValidationError("cannot create \(output)")
                }
            }
            guard let h = FileHandle(forWritingAtPath: output) else { throw ValidationError("cannot write \(output)") }
            h.seekToEndOfFile()
            handle = h
        }
        let collector = SampleCollector(secret: secret, output: handle, window: window, logger: logger)
        let ports = PortsReport(expected: (udp != nil ? 1 : 0) + (http != nil ? 1 : 0), file: readyFile)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: FlushService(collector: collector))]
        if let (h, p) = try udp.map(Self.split) {
            services.append(.init(service: ListenerService { try await UDPListener.run(host: h, port: p, collector: collector) { ports.report("udp", $0) } }))
        }
        if let (h, p) = try http.map(Self.split) {
            let idle = Int64(idleTimeout)
            services.append(.init(service: ListenerService {
                try await HTTPListener.run(host: h, port: p, collector: collector, idleTimeout: idle) { ports.report("http", $0) }
            }))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var failure: (any Error)?
        do { try await group.run() } catch { failure = error }
        await collector.flush()
        let counts = await collector.counts
        Stderr.write("nephometer receive: \(counts)\n")
        if let failure {
            Stderr.write("listener failed: \(failure)\n")
            throw ExitCode(1)
        }
    }
}

/// A listener until the graceful stop.
struct ListenerService: Service {
    let body: @Sendable () async throws -> Void
    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown(body)
        } catch is CancellationError {
            return
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            throw error
        }
    }
}

/// Writes accepted samples out every 200 ms, and once more at the stop.
struct FlushService: Service {
    let collector: SampleCollector
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(200))
                await collector.flush()
            }
        }
        await collector.flush()
    }
}

/// Collects bound ports and writes them once all listeners are up.
final class PortsReport: @unchecked Sendable {
    private let lock = NSLock()
    private var ports: [String: Int] = [:]
    let expected: Int
    let file: String?
    init(expected: Int, file: String?) {
        self.expected = expected
        self.file = file
    }
    func report(_ name: String, _ port: Int) {
        lock.lock()
        ports[name] = port
        let done = ports.count == expected
        let text = "{" + ports.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}\n"
        lock.unlock()
        Stderr.write("listening: \(text)")
        if done, let file { try? text.write(toFile: file, atomically: true, encoding: .utf8) }
    }
}
