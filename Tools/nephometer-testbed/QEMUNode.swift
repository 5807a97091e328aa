import Foundation
import TestSupport

/// `qemu-node`: real QEMU domains for the compute benchmark (scripts/bench-compute-qemu.sh).
enum QEMUNode {
    static func run(domains: Int, disks: Int, interfaces: Int, ready: String) async -> Int32 {
        // Asked to stop (stdin closed, SIGTERM, SIGINT) at any time, also while the domains start:
        // whatever was started is destroyed before the process exits.
        let stop = StopRequest()
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.fire() }
            source.resume()
            stop.keep(source)
        }
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while read(0, &byte, 1) > 0 {}
            stop.fire()
        }
        let daemon: LibvirtDaemon
        do { daemon = try await LibvirtDaemon.start() } catch {
            FileHandle.standardError.write(Data("libvirtd: \(error)\n".utf8))
            return 1
        }
        var pids: [Int32] = []
        do {
            for i in 0..<domains where !stop.fired {
                var spec = LibvirtDaemon.DomainSpec(name: String(format: "instance-%08x", i + 1), displayName: "bench-\(i + 1)")
                spec.disks = disks
                spec.interfaces = interfaces
                let d = try await daemon.create(spec)
                pids.append(try daemon.qemuPID(of: d.name))
            }
            if !stop.fired {
                let info = "{\"uri\": \"\(daemon.uri)\", \"read_only_uri\": \"\(daemon.readOnlyURI)\", \"libvirtd_pid\": \(daemon.pid), "
                    + "\"qemu_pids\": [\(pids.map(String.init).joined(separator: ", "))]}\n"
                try info.write(toFile: ready, atomically: true, encoding: .utf8)
            }
        } catch {
            FileHandle.standardError.write(Data("domains: \(error)\n\(daemon.logs().suffix(2000))\n".utf8))
            await daemon.shutdown()
            return 1
        }
        await stop.wait()
        await daemon.shutdown()
        return 0
    }
}

/// A stop asked for once, from whichever thread gets there first, awaited by `wait()`.
final class StopRequest: @unchecked Sendable {  // state under `lock`
    private let lock = NSLock()
    private var done = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var sources: [any DispatchSourceSignal] = []

    var fired: Bool { lock.withLock { done } }

    func keep(_ s: any DispatchSourceSignal) { lock.withLock { sources.append(s) } }

    func fire() {
        let w: CheckedContinuation<Void, Never>? = lock.withLock {
            done = true
            defer { waiter = nil }
            return waiter
        }
        w?.resume()
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                if done { return true }
                waiter = c
                return false
            }
            if now { c.resume() }
        }
    }
}
