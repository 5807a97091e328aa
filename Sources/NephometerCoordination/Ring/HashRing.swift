import Crypto

/// A consistent hash ring identical to tooz's `HashRing`, so Nephometer agents place work exactly as
/// Ceilometer's agents do.
///
/// Each member of weight `w` gets `partitions × w` ring points: the chained digests
/// `H(id·id)`, `H(id·id·id)`, … read as big-endian integers. A key is owned by the member of the first
/// point strictly greater than `H(key)`, wrapping around; with replicas, the walk continues to the next
/// distinct members, skipping ignored ones.
public struct HashRing: Sendable {
    public enum HashFunction: String, Sendable, CaseIterable {
        case md5, sha256
    }

    /// A ring position (up to 256 bits, compared as an unsigned big-endian integer).
    struct Point: Comparable, Sendable {
        var a: UInt64, b: UInt64, c: UInt64, d: UInt64
        static func < (x: Point, y: Point) -> Bool {
            if x.a != y.a { return x.a < y.a }
            if x.b != y.b { return x.b < y.b }
            if x.c != y.c { return x.c < y.c }
            return x.d < y.d
        }
    }

    /// Bounds that keep a ring's memory bounded whatever a peer or an operator asks for (README, Fleet):
    /// weights are whole numbers in 0…`maxWeight`, partitions per unit of weight at most
    /// `maxPartitions`, and points in all at most `maxPoints` (about 72 MB). Larger values are refused
    /// where they are read (membership records, `nephometer ring`); the initializer clamps as a last line.
    public static let maxWeight = 1_000
    public static let maxPartitions = 10_000
    public static let maxPoints = 2_000_000

    /// Why these members and partitions cannot make a ring, or nil.
    public static func problem(members: [String: Int], partitions: Int) -> String? {
        guard (1...maxPartitions).contains(partitions) else { return "partitions must be 1…\(maxPartitions), got \(partitions)" }
        for (m, w) in members where !(0...maxWeight).contains(w) {
            return "weight of \(m) must be 0…\(maxWeight), got \(w)"
        }
        let points = members.values.reduce(0) { $0 + $1 } * partitions
        guard points <= maxPoints else {
            return "\(members.count) member(s) with weights totalling \(members.values.reduce(0, +)) at \(partitions) partitions make \(points) ring points; at most \(maxPoints)"
        }
        return nil
    }

    public let partitions: Int
    public let hash: HashFunction
    /// Member id → weight.
    public private(set) var members: [String: Int]
    private var points: [Point] = []
    private var owners: [Int32] = []
    private var memberNames: [String] = []

    public init(members given: [String: Int] = [:], partitions: Int = 32, hash: HashFunction = .md5) {
        let partitions = Swift.min(Swift.max(partitions, 1), Self.maxPartitions)
        var members = given.mapValues { Swift.min($0, Self.maxWeight) }
        // Never more than maxPoints: the heaviest members are left out (callers refuse such input first).
        while members.values.reduce(0, +) * partitions > Self.maxPoints, let heaviest = members.max(by: { $0.value < $1.value }) {
            members[heaviest.key] = nil
        }
        self.partitions = partitions
        self.hash = hash
        self.members = [:]
        memberNames = members.filter { $0.value > 0 }.map(\.key).sorted()
        var pairs: [(Point, Int32)] = []
        pairs.reserveCapacity(memberNames.reduce(0) { $0 + partitions * (members[$1] ?? 1) })
        for (i, m) in memberNames.enumerated() {
            let w = members[m] ?? 1
            self.members[m] = w
            for p in Self.points(of: m, count: partitions * w, hash: hash) { pairs.append((p, Int32(i))) }
        }
        for (m, w) in members where w <= 0 { self.members[m] = w }
        build(pairs)
    }

    public init(members: [String], partitions: Int = 32, hash: HashFunction = .md5) {
        self.init(members: Dictionary(members.map { ($0, 1) }, uniquingKeysWith: { a, _ in a }), partitions: partitions, hash: hash)
    }

    private mutating func build(_ pairs: [(Point, Int32)]) {
        // Equal points (astronomically unlikely): one owner wins, as in tooz's dict.
        let sorted = pairs.sorted { $0.0 < $1.0 }
        points.removeAll(keepingCapacity: true)
        owners.removeAll(keepingCapacity: true)
        points.reserveCapacity(sorted.count)
        owners.reserveCapacity(sorted.count)
        for (p, m) in sorted {
            if let last = points.last, last == p {
                owners[owners.count - 1] = m
            } else {
                points.append(p)
                owners.append(m)
            }
        }
    }

    public var pointCount: Int { points.count }

    static func points(of member: String, count: Int, hash: HashFunction) -> [Point] {
        let key = Array(member.utf8)
        var out: [Point] = []
        out.reserveCapacity(count)
        switch hash {
        case .md5:
            var h = Insecure.MD5()
            h.update(data: key)
            for _ in 0..<count {
                h.update(data: key)
                out.append(point(h.finalize()))
            }
        case .sha256:
            var h = SHA256()
            h.update(data: key)
            for _ in 0..<count {
                h.update(data: key)
                out.append(point(h.finalize()))
            }
        }
        return out
    }

    static func point<D: Digest>(_ digest: D) -> Point {
        digest.withUnsafeBytes { raw in
            func word(_ i: Int) -> UInt64 {
                guard i * 8 + 8 <= raw.count else { return 0 }
                var v: UInt64 = 0
                for k in 0..<8 { v = v << 8 | UInt64(raw[i * 8 + k]) }
                return v
            }
            return Point(a: word(0), b: word(1), c: word(2), d: word(3))
        }
    }

    func digest(_ key: [UInt8]) -> Point {
        switch hash {
        case .md5: return Self.point(Insecure.MD5.hash(data: key))
        case .sha256: return Self.point(SHA256.hash(data: key))
        }
    }

    /// Index of the first point strictly greater than `x` (bisect_right), wrapping to 0.
    func partition(of x: Point) -> Int {
        var lo = 0, hi = points.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if x < points[mid] { hi = mid } else { lo = mid + 1 }
        }
        return lo < points.count ? lo : 0
    }

    /// The owners of `key` (UTF-8 bytes), in walk order.
    public func owners(of key: String, replicas: Int = 1, ignoring ignored: Set<String> = []) -> [String] {
        owners(ofBytes: Array(key.utf8), replicas: replicas, ignoring: ignored)
    }

    public func owners(ofBytes key: [UInt8], replicas: Int = 1, ignoring ignored: Set<String> = []) -> [String] {
        guard !points.isEmpty else { return [] }
        let candidates = members.keys.filter { !ignored.contains($0) }.count
        let need = min(replicas, candidates)
        guard need > 0 else { return [] }
        var i = partition(of: digest(key))
        var found: [String] = []
        var steps = 0
        while found.count < need && steps < points.count {
            let m = memberNames[Int(owners[i])]
            if !ignored.contains(m) && !found.contains(m) { found.append(m) }
            i = i + 1 < points.count ? i + 1 : 0
            steps += 1
        }
        return found
    }

    /// True when `member` is among the owners of `key` (replicas 1: the owner).
    public func owns(_ member: String, key: String) -> Bool {
        guard !points.isEmpty else { return false }
        let i = partition(of: digest(Array(key.utf8)))
        return memberNames[Int(owners[i])] == member
    }

    /// The ring's points as hex strings with their owners (for tests and `nephometer ring --points`).
    public var pointsHex: [(String, String)] {
        points.enumerated().map { i, p in
            let words = hash == .md5 ? [p.a, p.b] : [p.a, p.b, p.c, p.d]
            let hex = words.map { w in (0..<16).map { k in String(UInt8((w >> (60 - UInt64(k) * 4)) & 0xf), radix: 16) }.joined() }.joined()
            return (hex, memberNames[Int(owners[i])])
        }
    }
}
