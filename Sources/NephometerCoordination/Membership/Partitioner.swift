import Logging
import NephometerCore

/// Splits resources between the members of a group with tooz's hash ring: this agent keeps the
/// resources whose key the ring assigns to its member id.
///
/// Joins groups on first use. When the backend is unreachable it keeps the last ring it knew; before it
/// ever knew one it polls everything (never nothing).
public actor Partitioner {
    let membership: any Membership
    let weight: Int
    let logger: Logger
    private var joined: Set<String> = []
    private var rings: [String: (members: [String: Int], ring: HashRing)] = [:]
    /// What this agent owned in each group when it last was in the ring.
    private var lastOwned: [String: Set<String>] = [:]
    private let once = LogOnce()

    public init(membership: any Membership, weight: Int = 1, logger: Logger) {
        self.membership = membership
        self.weight = weight
        self.logger = logger
    }

    public nonisolated var memberID: String { membership.memberID }

    /// Joins groups ahead of the first cycle, so the first cycle already splits the work.
    public func prepare(groups: [String]) async {
        for g in groups { await ensureJoined(g) }
    }

    private func ensureJoined(_ group: String) async {
        guard !joined.contains(group) else { return }
        do {
            try await membership.join(group: group, weight: weight)
            joined.insert(group)
            once.clear("join/\(group)")
            logger.info("joined partitioning group \(group) as \(memberID)")
        } catch {
            once.log(logger, .error, key: "join/\(group)", "cannot join partitioning group \(group): \(error); polling what the last known ring gives (everything if none)")
        }
    }

    /// The current ring of `group` (refreshed from the backend, or the last known).
    public func ring(of group: String) async -> HashRing? {
        await ensureJoined(group)
        if let members = await membership.members(of: group), !members.isEmpty {
            if let problem = HashRing.problem(members: members, partitions: 32) {
                once.log(logger, .error, key: "ring-size/\(group)", "group \(group): \(problem); the heaviest members are left out of this agent's ring")
            } else {
                once.clear("ring-size/\(group)")
            }
            if rings[group]?.members != members {
                let old = rings[group]?.members.keys.sorted() ?? []
                rings[group] = (members, HashRing(members: members))
                logger.notice("group \(group): \(members.count) member(s)\(old.isEmpty ? "" : ", was \(old.count)")")
            }
        }
        return rings[group]?.ring
    }

    /// Keeps the resources this agent owns in `group`.
    public func filter(_ resources: [PollResource], group: String) async -> [PollResource] {
        guard let ring = await ring(of: group) else { return resources }
        let me = memberID
        guard ring.members[me] != nil else {
            // We are not (yet, or no longer) in the ring we know — a lease that expired while this
            // process was paused, say: membership re-joins us; meanwhile keep polling what we owned
            // when we were last in it (nothing if we never were), not everything.
            let owned = lastOwned[group] ?? []
            once.log(logger, .warning, key: "absent/\(group)", "this agent (\(me)) is not in the ring of \(group); re-joining, and polling the \(owned.count) resource(s) it owned meanwhile")
            joined.remove(group)
            return resources.filter { owned.contains($0.key) }
        }
        once.clear("absent/\(group)")
        let mine = resources.filter { ring.owns(me, key: $0.key) }
        lastOwned[group] = Set(mine.map(\.key))
        return mine
    }

    /// Leaves groups this agent no longer polls (a reload).
    public func retain(groups: [String]) async {
        let keep = Set(groups)
        for g in joined where !keep.contains(g) {
            await membership.leave(group: g)
            joined.remove(g)
            rings[g] = nil
            lastOwned[g] = nil
            logger.info("left partitioning group \(g)")
        }
    }

    /// The groups joined, with their members as last known and what this agent owns of each.
    public func snapshot() -> [(group: String, members: [String: Int], owned: Int)] {
        joined.sorted().map { g in (g, rings[g]?.members ?? [:], lastOwned[g]?.count ?? 0) }
    }

    /// Heartbeats and watches (see `Membership.run`).
    public nonisolated func run() async { await membership.run() }

    public func stop() async { await membership.stop() }
}
