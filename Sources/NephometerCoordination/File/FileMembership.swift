import Crypto
import Foundation
import Logging
import NephometerCore
import NephometerPublishers

/// `file:///dir`: members on one host share a directory; liveness is the mtime of each member's file,
/// refreshed every timeout/3. Layout as tooz's file driver: `groups/<sha1(group)>/<sha1(member)>.raw`
/// holding msgpack `{capabilities: {weight}, member_id, encoded}`.
public actor FileMembership: Membership {
    public nonisolated let memberID: String
    let directory: String
    let timeout: Double
    let logger: Logger
    private var groups: [String: Int] = [:]
    private var stopped = false
    private let once = LogOnce()

    public init(directory: String, memberID: String, timeout: Double, logger: Logger) {
        self.directory = directory
        self.memberID = memberID
        self.timeout = timeout
        self.logger = logger
    }

    public static func sha1(_ s: String) -> String {
        Hex.string(Insecure.SHA1.hash(data: Array(s.utf8)))
    }

    private func groupDir(_ g: String) -> String { "\(directory)/groups/\(Self.sha1(g))" }
    private func memberFile(_ g: String) -> String { "\(groupDir(g))/\(Self.sha1(memberID)).raw" }

    public func join(group: String, weight: Int) async throws {
        let dir = groupDir(group)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let meta = try MsgPackEncoder.encode(.object(["group_id": .bytes(Array(group.utf8)), "encoded": .bool(true)]))
        if !FileManager.default.fileExists(atPath: "\(dir)/.metadata") {
            try Data(meta).write(to: URL(fileURLWithPath: "\(dir)/.metadata"), options: .atomic)
        }
        let record = try MsgPackEncoder.encode(.object([
            "capabilities": .object(["weight": .int(weight)]),
            "member_id": .bytes(Array(memberID.utf8)), "encoded": .bool(true),
        ]))
        try Data(record).write(to: URL(fileURLWithPath: memberFile(group)), options: .atomic)
        groups[group] = weight
    }

    /// Refreshes this member's files every timeout/3, until cancelled or stopped.
    public nonisolated func run() async {
        while !Task.isCancelled, await !isStopped {
            try? await Task.sleep(for: .seconds(clamping: timeout / 3))
            await beat()
        }
    }

    private var isStopped: Bool { stopped }

    private func beat() async {
        for (g, w) in groups {
            let path = memberFile(g)
            if utime(path, nil) != 0 {
                // Removed under us: re-create it.
                try? await join(group: g, weight: w)
            }
        }
    }

    public func leave(group: String) async {
        guard groups.removeValue(forKey: group) != nil else { return }
        unlink(memberFile(group))
    }

    public func members(of group: String) async -> [String: Int]? {
        let dir = groupDir(group)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
        let now = Date().timeIntervalSince1970
        var out: [String: Int] = [:]
        for n in names where n.hasSuffix(".raw") {
            let path = "\(dir)/\(n)"
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: path),
                  let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970,
                  now - mtime >= -1, now - mtime <= timeout,
                  (attrs[.size] as? Int ?? 0) <= 64 << 10,
                  let data = FileManager.default.contents(atPath: path),
                  case .object(let o) = try? MsgPackDecoder.decode(Array(data)) else { continue }
            let id: String
            switch o["member_id"] {
            case .bytes(let b)?:
                guard let valid = MemberWeight.memberID(b) else {
                    once.log(logger, .error, key: "bad-id/\(n)", "group \(group): member file \(n) has a member id that is not valid UTF-8; ignored")
                    continue
                }
                id = valid
            case .string(let s)?: id = s
            default: continue
            }
            switch MemberWeight.parse(o["capabilities"]?["weight"]) {
            case .success(let w):
                out[id] = w
            case .failure(let why):
                once.log(logger, .error, key: "bad-weight/\(group)/\(id)", "group \(group): member \(id.prefix(64)): \(why); the member is ignored")
            }
        }
        return out
    }

    public func stop() async {
        stopped = true
        for g in groups.keys { unlink(memberFile(g)) }
        groups = [:]
    }
}
