import Foundation
import Logging
import NephometerCore
import NephometerPublishers

/// `etcd3+http(s)://host:port[?timeout=S]`: membership on etcd with tooz's key layout, so Python tooz
/// clients and Nephometer agents see each other.
///
/// One lease per agent (TTL = membership timeout, default 30 s), kept alive every TTL/3. A group is the
/// key `tooz/groups/<group>/`; a member is `tooz/groups/<group>/<member id>` holding msgpack
/// `{'weight': w}`, attached to the lease. Each group's members are watched, so a join or an expired
/// lease changes the ring at once. Unlike tooz, an agent whose lease expired (a network partition, a
/// long pause) grants a new lease and re-joins its groups by itself.
public actor EtcdMembership: Membership {
    public nonisolated let memberID: String
    let ttl: Int
    let client: EtcdClient
    let logger: Logger
    private var lease: String?
    private var groups: [String: Int] = [:]
    private var cache: [String: [String: Int]] = [:]
    /// Groups whose watch runs (or waits for `run` to start it).
    private var watched: Set<String> = []
    private let watchRequests = AsyncStream<String>.makeStream()
    private var outage = false
    private let once = LogOnce()
    /// The re-join in progress: concurrent causes (an expired lease seen by the heartbeat, our key's
    /// delete seen by the watch) share one, so no second lease is granted whose expiry would later
    /// delete the member key again.
    private var rejoining: Task<Void, any Error>?
    private var stopped = false

    static let prefix = "tooz/groups/"

    public init(endpoint: String, memberID: String, ttl: Double, logger: Logger) {
        self.memberID = memberID
        self.ttl = Int(min(3_600, max(1, ttl.isFinite ? ttl.rounded() : 30)))
        client = EtcdClient(endpoint: endpoint, timeout: ttl)
        self.logger = logger
    }

    static func groupKey(_ g: String) -> String { "\(prefix)\(g)/" }
    static func capabilities(_ weight: Int) -> [UInt8] {
        (try? MsgPackEncoder.encode(.object(["weight": .int(weight)]))) ?? [0xc0]
    }

    private func ensureLease() async throws -> String {
        if let lease { return lease }
        let l = try await client.grant(ttl: ttl)
        lease = l
        return l
    }

    public func join(group: String, weight: Int) async throws {
        let l = try await ensureLease()
        try await client.createIfAbsent(key: Self.groupKey(group))
        try await client.put(key: Self.groupKey(group) + memberID, value: Self.capabilities(weight), lease: l)
        groups[group] = weight
        startWatch(group)
    }

    /// Keeps the lease alive every TTL/3 and watches every joined group, until cancelled or stopped.
    public nonisolated func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                let period = max(0.2, Double(ttl) / 3)
                while !Task.isCancelled, await !isStopped {
                    try? await Task.sleep(for: .seconds(clamping: period))
                    await beat()
                }
            }
            group.addTask { [self] in
                await withDiscardingTaskGroup { watches in
                    for await g in watchRequests.stream { watches.addTask { await self.watchLoop(g) } }
                }
            }
            // Cancellation (the agent stopping) ends the request stream too.
            await withTaskCancellationHandler {
                while !Task.isCancelled, await !isStopped { try? await Task.sleep(for: .seconds(1)) }
            } onCancel: { [watchRequests] in
                watchRequests.continuation.finish()
            }
            watchRequests.continuation.finish()
        }
    }

    private var isStopped: Bool { stopped }

    private func beat() async {
        guard let l = lease, !stopped else { return }
        do {
            if try await client.keepAlive(l) == nil, lease == l {
                logger.warning("etcd lease \(l) of member \(memberID) expired; granting a new one and re-joining \(groups.count) group(s)")
                try await rejoin()
            }
            if outage {
                outage = false
                logger.notice("etcd reachable again")
            }
        } catch {
            // Shutting down is not an etcd error.
            if Task.isCancelled || stopped || error is CancellationError { return }
            if !outage {
                outage = true
                logger.error("etcd unreachable (\(error)); keeping the last known rings and retrying")
            }
            // The lease may be gone when etcd comes back: make sure our keys are there.
            if "\(error)".contains("lease not found") { try? await rejoin() }
        }
    }

    /// New lease, member keys put again (tooz never does this; its member stays gone). One at a time.
    private func rejoin() async throws {
        if let running = rejoining { return try await running.value }
        let task = Task { try await self.grantAndPut() }
        rejoining = task
        defer { rejoining = nil }
        try await task.value
    }

    private func grantAndPut() async throws {
        let l = try await client.grant(ttl: ttl)
        let old = lease
        lease = l
        for (g, w) in groups {
            try await client.createIfAbsent(key: Self.groupKey(g))
            try await client.put(key: Self.groupKey(g) + memberID, value: Self.capabilities(w), lease: l)
        }
        // The old lease, if it still exists, must not outlive us and delete anything later.
        if let old, old != l { _ = try? await client.post("/v3/lease/revoke", ["ID": .string(old)]) }
    }

    private func startWatch(_ group: String) {
        guard watched.insert(group).inserted else { return }
        watchRequests.continuation.yield(group)
    }

    /// Follows a group's members (re-reading them after every break of the stream) while it is joined.
    private func watchLoop(_ group: String) async {
        var backoff = 0.5
        while !Task.isCancelled, !stopped, groups[group] != nil {
            do {
                let revision = try await refresh(group)
                backoff = 0.5
                try await client.watch(prefix: Self.groupKey(group), from: revision + 1) { events in
                    if await self.apply(events, group: group) { try? await self.rejoinAfterLoss(group) }
                }
            } catch {
                if Task.isCancelled || stopped { return }
                try? await Task.sleep(for: .seconds(clamping: backoff))
                backoff = min(backoff * 2, 5)
            }
        }
        watched.remove(group)
    }

    /// Reads the group's members; returns the revision they were read at.
    @discardableResult
    private func refresh(_ group: String) async throws -> Int64 {
        let prefix = Array(Self.groupKey(group).utf8)
        let (kvs, revision) = try await client.range(prefix: Self.groupKey(group))
        var members: [String: Int] = [:]
        for (key, value) in kvs where key.count > prefix.count {
            if let (id, w) = member(key.dropFirst(prefix.count), value, group: group) { members[id] = w }
        }
        cache[group] = members
        return revision
    }

    /// A member record as a peer wrote it, or nil (logged once) when its id or weight is not one.
    private func member(_ idBytes: ArraySlice<UInt8>, _ value: [UInt8], group: String) -> (String, Int)? {
        guard let id = MemberWeight.memberID(idBytes) else {
            once.log(logger, .error, key: "bad-id/\(group)/\(idBytes.hashValue)", "group \(group): a member id is not valid UTF-8 (or longer than 255 bytes); the member is ignored")
            return nil
        }
        let capabilities = (try? MsgPackDecoder.decode(value)) ?? .null
        let weight = capabilities.objectValue.map { MemberWeight.parse($0["weight"]) } ?? .success(1)
        switch weight {
        case .success(let w):
            once.clear("bad-weight/\(group)/\(id)")
            return (id, w)
        case .failure(let why):
            once.log(logger, .error, key: "bad-weight/\(group)/\(id)", "group \(group): member \(id.prefix(64)): \(why); the member is ignored")
            return nil
        }
    }

    /// Applies watch events; true when our own member key was deleted (re-join then).
    private func apply(_ events: [EtcdClient.WatchEvent], group: String) -> Bool {
        var lost = false
        let prefix = Array(Self.groupKey(group).utf8)
        var members = cache[group] ?? [:]
        for e in events {
            switch e {
            case .put(let key, let value) where key.count > prefix.count:
                if let (id, w) = member(key.dropFirst(prefix.count), value, group: group) { members[id] = w }
                else if let id = MemberWeight.memberID(key.dropFirst(prefix.count)) { members[id] = nil }
            case .delete(let key) where key.count > prefix.count:
                guard let id = MemberWeight.memberID(key.dropFirst(prefix.count)) else { continue }
                members[id] = nil
                if id == memberID, groups[group] != nil { lost = true }
            default: break
            }
        }
        cache[group] = members
        return lost
    }

    private func rejoinAfterLoss(_ group: String) async throws {
        guard let w = groups[group], !stopped else { return }
        if let running = rejoining { return try await running.value }
        logger.warning("member \(memberID) disappeared from \(group); re-joining")
        let alive: Int?? = if let l = lease { try? await client.keepAlive(l) } else { nil }
        if let l = lease, case .some(.some) = alive {
            try await client.put(key: Self.groupKey(group) + memberID, value: Self.capabilities(w), lease: l)
        } else {
            try await rejoin()
        }
    }

    public func members(of group: String) async -> [String: Int]? {
        if let c = cache[group] { return c }
        do {
            try await refresh(group)
        } catch {
            return nil
        }
        return cache[group]
    }

    public func leave(group: String) async {
        guard groups.removeValue(forKey: group) != nil else { return }
        cache[group] = nil
        try? await client.delete(key: Self.groupKey(group) + memberID)
    }

    public func stop() async {
        guard !stopped else { return }
        stopped = true
        watchRequests.continuation.finish()
        let left = Array(groups.keys)
        groups = [:]
        for g in left { try? await client.delete(key: Self.groupKey(g) + memberID) }
        if let l = lease { _ = try? await client.post("/v3/lease/revoke", ["ID": .string(l)]) }
        await client.shutdown()
    }
}
