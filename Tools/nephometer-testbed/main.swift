import Foundation
import TestSupport

// Writes fixtures for demos and benchmarks.
//   nephometer-testbed libvirt-node --domains N [--disks N] [--interfaces N] --output FILE
//     a libvirt test-driver node file with N running domains carrying Nova metadata; prints its URI.
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
