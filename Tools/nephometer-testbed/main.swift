import Foundation
import TestSupport

// Writes fixtures for demos and benchmarks.
//   nephometer-testbed libvirt-node --domains N [--disks N] [--interfaces N] --output FILE
//     a libvirt test-driver node file with N running domains carrying Nova metadata; prints its URI.
//   nephometer-testbed qemu-node --domains N [--disks N] [--interfaces N] --ready FILE
//     a real libvirtd (QEMU driver, private namespace) with N running TCG domains carrying Nova
//     metadata; writes {"uri", "read_only_uri", "libvirtd_pid", "qemu_pids"} to FILE once they run,
//     and keeps them until stdin closes or SIGTERM/SIGINT, then destroys everything.
//   nephometer-testbed leak-daemon --log-directory DIR
//     starts `sleep 600` as a registered test daemon and exits without stopping it (tests the reaper).

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: nephometer-testbed libvirt-node --domains N [--disks N] [--interfaces N] --output FILE\n".utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
if args.first == "leak-daemon", args.count == 3, args[1] == "--log-directory" {
    do {
        let p = try BackgroundProcess("/bin/sleep", ["600"], logDirectory: args[2], name: "leaked-sleep")
        print(p.pid)
        exit(0)  // no deinit, no stop: as a crashed test would leave it
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(1)
    }
}
if args.first == "qemu-node" {
    args.removeFirst()
    var o: [String: String] = [:]
    while args.count >= 2, args[0].hasPrefix("--") { o[String(args[0].dropFirst(2))] = args[1]; args.removeFirst(2) }
    guard args.isEmpty, let ready = o["ready"], let n = Int(o["domains"] ?? ""), n > 0 else { usage() }
    exit(await QEMUNode.run(domains: n, disks: Int(o["disks"] ?? "1") ?? 1, interfaces: Int(o["interfaces"] ?? "1") ?? 1, ready: ready))
}
guard args.first == "libvirt-node" else { usage() }
args.removeFirst()
var options: [String: String] = [:]
while args.count >= 2, args[0].hasPrefix("--") {
    options[String(args[0].dropFirst(2))] = args[1]
    args.removeFirst(2)
}
guard args.isEmpty, let output = options["output"], let domains = Int(options["domains"] ?? ""), domains > 0 else { usage() }
let disks = Int(options["disks"] ?? "1") ?? 1
let interfaces = Int(options["interfaces"] ?? "1") ?? 1
let path = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
do {
    print(try LibvirtTestNode.uniform(count: domains, disks: disks, interfaces: interfaces).write(to: path))
} catch {
    FileHandle.standardError.write(Data("cannot write \(path): \(error)\n".utf8))
    exit(1)
}
