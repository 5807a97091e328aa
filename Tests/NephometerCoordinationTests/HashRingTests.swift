import Foundation
import NephometerCoordination
import NephometerCore
import Testing
import TestSupport

/// Every owner set of tooz 9.1.0's own HashRing (Tests/Fixtures/vectors/hashring-tooz.json).
@Suite struct HashRingTests {
    static let vectors: MetadataValue = (try? Fixtures.json("vectors/hashring-tooz.json")) ?? .null

    @Test func everyOwnerSetInTheVectorsMatches() throws {
        let v = Self.vectors
        guard case .array(let keyValues)? = v["keys"], case .array(let configs)? = v["configs"],
              case .array(let scenarios)? = v["scenarios"] else { Issue.record("vectors missing"); return }
        let keys = keyValues.compactMap(\.stringValue)
        #expect(keys.count == 1000)
        var compared = 0
        for scenario in scenarios {
            guard case .array(let ms)? = scenario["members"], case .object(let results)? = scenario["results"] else { continue }
            var members: [String: Int] = [:]
            for m in ms { if let id = m["id"]?.stringValue { members[id] = Int(m["weight"]?.numberValue?.doubleValue ?? 1) } }
            for config in configs {
                guard let name = config["name"]?.stringValue, let result = results[name] else { continue }
                let partitions = Int(config["partitions"]?.numberValue?.doubleValue ?? 32)
                let replicas = Int(config["replicas"]?.numberValue?.doubleValue ?? 1)
                let hash = HashRing.HashFunction(rawValue: config["hash_function"]?.stringValue ?? "md5") ?? .md5
                var ignore: Set<String> = []
                if case .array(let ig)? = result["ignore"] { ignore = Set(ig.compactMap(\.stringValue)) }
                let ring = HashRing(members: members, partitions: partitions, hash: hash)
                guard case .array(let owners)? = result["owners"] else { continue }
                for (key, expected) in zip(keys, owners) {
                    guard case .array(let e) = expected else { continue }
                    let ours = ring.owners(of: key, replicas: replicas, ignoring: ignore)
                    #expect(Set(ours) == Set(e.compactMap(\.stringValue)), "\(scenario["name"]?.stringValue ?? "") \(name) \(key)")
                    compared += 1
                }
                if let size = result["ring_size"]?.numberValue { #expect(ring.pointCount == Int(size.doubleValue)) }
            }
        }
        #expect(compared > 50_000)
    }

    @Test func ringPointsEqualToozsForThePrimaryConfiguration() throws {
        guard case .array(let scenarios)? = Self.vectors["scenarios"] else { Issue.record("vectors"); return }
        for scenario in scenarios {
            guard case .array(let ms)? = scenario["members"], case .array(let points)? = scenario["results"]?["p32_r1"]?["ring_points"] else { continue }
            var members: [String: Int] = [:]
            for m in ms { if let id = m["id"]?.stringValue { members[id] = Int(m["weight"]?.numberValue?.doubleValue ?? 1) } }
            let ours = HashRing(members: members).pointsHex
            let theirs = points.compactMap { p -> (String, String)? in
                guard case .array(let pair) = p, pair.count == 2, let h = pair[0].stringValue, let o = pair[1].stringValue else { return nil }
                return (h, o)
            }
            #expect(ours.map(\.0) == theirs.map(\.0))
            #expect(ours.map(\.1) == theirs.map(\.1))
        }
    }

    @Test func edgeCases() {
        #expect(HashRing(members: []).owners(of: "x").isEmpty)
        #expect(HashRing(members: ["a", "b"]).owners(of: "x", ignoring: ["a", "b"]).isEmpty)
        #expect(Set(HashRing(members: ["a", "b"]).owners(of: "x", replicas: 5)) == ["a", "b"])
        #expect(HashRing(members: ["a", "b"]).owners(of: "x", ignoring: ["zzz"]) == ["b"])
        let single = HashRing(members: ["a"])
        #expect(single.pointCount == 32)
        #expect(Set(single.pointsHex.map(\.0)).isSuperset(of: ["4124bc0a9335c27f086f24ba207a4912", "47bce5c74f589f4867dbd57e9ca9f808"]))
        // Worked example of the reference: md5 placement with two hostnames.
        let two = HashRing(members: ["host-1.example.org", "host-2.example.org"])
        #expect(two.owners(of: "snmp://10.0.0.1") == ["host-1.example.org"])
        #expect(two.owners(of: "<NovaLikeServer: vm-1>") == ["host-2.example.org"])
        #expect(two.owns("host-1.example.org", key: "snmp://10.0.0.1"))
        // A weight-0 member has no points and is never chosen (tooz would loop forever with replicas 2).
        #expect(HashRing(members: ["a": 1, "z": 0]).owners(of: "x", replicas: 2) == ["a"])
    }

    @Test func aJoinMovesOnlyKeysToTheNewMember() {
        let keys = (0..<20_000).map { "11111111-0000-0000-0000-\(String(format: "%012d", $0))" }
        let three = HashRing(members: ["host-1.example.org", "host-2.example.org", "host-3.example.org"])
        let four = HashRing(members: ["host-1.example.org", "host-2.example.org", "host-3.example.org", "host-4.example.org"])
        var moved = 0
        for k in keys {
            let before = three.owners(of: k)[0], after = four.owners(of: k)[0]
            if before != after {
                moved += 1
                #expect(after == "host-4.example.org")
            }
        }
        // tooz measured 19.33 % for this transition (reference §4.2).
        #expect(moved > 2000 && moved < 6000)
    }
}
