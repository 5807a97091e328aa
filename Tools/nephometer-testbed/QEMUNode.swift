import Foundation
import TestSupport

/// `qemu-node`: real QEMU domains for the compute benchmark (scripts/bench-compute-qemu.sh).
enum QEMUNode {
    static func run(domains: Int, disks: Int, interfaces: Int, ready: String) async -> Int32 {
        let daemon: LibvirtDaemon
        do { daemon = try await LibvirtDaemon.start() } catch {
            FileHandle.standardError.write(Data("libvirtd: \(error)\n".utf8))
            return 1
        }
        var pids: [Int32] = []
        do {
            for i in 0..<domains {
                var spec = LibvirtDaemon.DomainSpec(name: String(format: "instance-%08x", i + 1), displayName: "bench-\(i + 1)")
                spec.disks = disks
                spec.interfaces = interfaces
                let d = try await daemon.create(spec)
                pids.append(try daemon.qemuPID(of: d.name))
            }
            let info = "{\"uri\": \"\(daemon.uri)\", \"read_only_uri\": \"\(daemon.readOnlyURI)\", \"libvirtd_pid\": \(daemon.pid), "
                + "\"qemu_pids\": [\(pids.map(String.init).joined(separator: ", "))]}\n"
            try info.write(toFile: ready, atomically: true, encoding: .utf8)
        } catch {
            FileHandle.standardError.write(Data("domains: \(error)\n\(daemon.logs().suffix(2000))\n".utf8))
            await daemon.shutdown()
            return 1
        }
        // Until stdin closes or a signal asks to stop.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let once = Once(done)
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { once.fire() }
                source.resume()
                Once.keep(source)
            }
            Thread.detachNewThread {
                var byte: UInt8 = 0
                while read(0, &byte, 1) > 0 {}
                once.fire()
            }
        }
        await daemon.shutdown()
        return 0
    }
}

/// Resumes a continuation once, from whichever thread gets there first.
final class Once: @unchecked Sendable {  // state under `lock`
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    nonisolated(unsafe) private static var kept: [any DispatchSourceSignal] = []

    init(_ c: CheckedContinuation<Void, Never>) { continuation = c }

    func fire() {
        let c: CheckedContinuation<Void, Never>? = lock.withLock { defer { continuation = nil }; return continuation }
        c?.resume()
    }

    static func keep(_ s: any DispatchSourceSignal) { kept.append(s) }
}
