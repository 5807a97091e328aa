import ArgumentParser
import Foundation
import Logging
import NephometerCoordination
import NephometerCore

struct RingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring",
        abstract: "Show which members own which keys on the hash ring (tooz's algorithm).",
        discussion: """
            Prints one JSON line per key: {"key": …, "owners": [...]}. Keys come from the arguments,
            or from stdin (one per line) when none are given. Members come from --members, or from a
            live group with --coordination-url and --group.

            Examples:
              nephometer ring --members agent-a,agent-b:2,agent-c snmp://10.0.0.1 snmp://10.0.0.2
              nephometer ring --coordination-url etcd3+http://127.0.0.1:2379 --group compute-compute-1 < instance-ids.txt
            """)

    @Option(help: "Members as ID[:WEIGHT], comma separated.")
    var members: String?
    @Option(help: "Points per unit of weight (tooz and Ceilometer use 32).")
    var partitions: Int = 32
    @Option(help: "How many distinct owners to list per key.")
    var replicas: Int = 1
    @Option(help: "Members to leave out, comma separated.")
    var ignore: String?
    @Option(help: "md5 (tooz's default) or sha256.")
    var hash: String = "md5"
    @Option(name: .customLong("coordination-url"), help: "Read the members of --group from this backend.")
    var coordinationURL: String?
    @Option(help: "Group whose live members to use (with --coordination-url).")
    var group: String?
    @Argument(help: "Keys to place.")
    var keys: [String] = []

    func parseMembers(_ text: String) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for part in text.split(separator: ",") {
            let p = part.trimmingCharacters(in: .whitespaces)
            guard !p.isEmpty else { continue }
            if let colon = p.lastIndex(of: ":") {
                let text = p[p.index(after: colon)...]
                guard let w = Int(text), (0...HashRing.maxWeight).contains(w) else {
                    throw ValidationError("weight of \(p[..<colon]) must be a whole number in 0…\(HashRing.maxWeight), got '\(text.prefix(40))'")
                }
                out[String(p[..<colon])] = w
            } else {
                out[p] = 1
            }
        }
        return out
    }

    /// Keys from stdin, one a line, as bytes: a line that is not valid UTF-8 is refused (tooz hashes the
    /// bytes of a key; turning it into U+FFFD would make distinct keys collide).
    static func stdinKeys() -> (keys: [String], refused: [Int]) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(0, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var keys: [String] = []
        var refused: [Int] = []
        for (i, line) in lines.enumerated() {
            let l = line.last == 0x0D ? line.dropLast() : line
            if let s = String(validating: Array(l), as: UTF8.self) { keys.append(s) } else { refused.append(i + 1) }
        }
        return (keys, refused)
    }

    func run() async throws {
        guard let hashFunction = HashRing.HashFunction(rawValue: hash) else { throw ValidationError("--hash must be md5 or sha256") }
        guard (1...HashRing.maxPartitions).contains(partitions) else {
            throw ValidationError("--partitions must be 1…\(HashRing.maxPartitions), got \(partitions)")
        }
        guard (1...1_000).contains(replicas) else { throw ValidationError("--replicas must be 1…1000, got \(replicas)") }
        var memberWeights: [String: Int] = [:]
        if let members { memberWeights = try parseMembers(members) }
        if let url = coordinationURL {
            guard let group else { throw ValidationError("--coordination-url needs --group") }
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = .warning
                return h
            }
            let parsed: CoordinationURL
            do { parsed = try CoordinationURL(url) } catch { throw ValidationError(error.description) }
            let membership = parsed.open(logger: Logger(label: "nephometer.ring"))
            guard let live = await membership.members(of: group) else {
                await membership.stop()
                Stderr.write("cannot read the members of \(group) from \(parsed.redacted)\n")
                throw ExitCode(1)
            }
            await membership.stop()
            memberWeights.merge(live) { a, _ in a }
        }
        guard !memberWeights.isEmpty else { throw ValidationError("give --members, or --coordination-url with --group") }
        if let problem = HashRing.problem(members: memberWeights, partitions: partitions) { throw ValidationError(problem) }
        let ring = HashRing(members: memberWeights, partitions: partitions, hash: hashFunction)
        let ignored = Set((ignore ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        var input = keys
        var refused: [Int] = []
        if input.isEmpty { (input, refused) = Self.stdinKeys() }
        for line in refused { Stderr.write("line \(line) of stdin is not valid UTF-8; its key is skipped\n") }
        var out = ""
        for key in input {
            let owners = ring.owners(of: key, replicas: replicas, ignoring: ignored)
            out += JSONWriter.string(.object(["key": .string(key), "owners": .array(owners.map { .string($0) })])) + "\n"
            if out.utf8.count > 1 << 16 { FileHandle.standardOutput.write(Data(out.utf8)); out = "" }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
        if !refused.isEmpty { throw ExitCode(1) }
    }
}
