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
            if let colon = p.lastIndex(of: ":"), let w = Int(p[p.index(after: colon)...]) {
                guard w >= 0 else { throw ValidationError("weight of \(p[..<colon]) must be >= 0") }
                out[String(p[..<colon])] = w
            } else {
                out[p] = 1
            }
        }
        return out
    }

    func run() async throws {
        guard let hashFunction = HashRing.HashFunction(rawValue: hash) else { throw ValidationError("--hash must be md5 or sha256") }
        guard partitions > 0, replicas > 0 else { throw ValidationError("--partitions and --replicas must be > 0") }
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
                Stderr.write("cannot read the members of \(group) from \(url)\n")
                throw ExitCode(1)
            }
            await membership.stop()
            memberWeights.merge(live) { a, _ in a }
        }
        guard !memberWeights.isEmpty else { throw ValidationError("give --members, or --coordination-url with --group") }
        let ring = HashRing(members: memberWeights, partitions: partitions, hash: hashFunction)
        let ignored = Set((ignore ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        var input = keys
        if input.isEmpty {
            while let line = readLine(strippingNewline: true) { input.append(line) }
        }
        var out = ""
        for key in input {
            let owners = ring.owners(of: key, replicas: replicas, ignoring: ignored)
            out += JSONWriter.string(.object(["key": .string(key), "owners": .array(owners.map { .string($0) })])) + "\n"
            if out.utf8.count > 1 << 16 { FileHandle.standardOutput.write(Data(out.utf8)); out = "" }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
