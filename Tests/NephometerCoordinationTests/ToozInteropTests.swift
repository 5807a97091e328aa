import Foundation
import Logging
import NephometerCoordination
import NephometerCore
import Testing
import TestSupport

/// A Python tooz client (real tooz + etcd3gw from PyPI) and Nephometer in the same etcd group.
@Suite(.serialized) struct ToozInteropTests {
    static let script = """
    import json, sys, time
    from tooz import coordination, hashring
    url, group, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
    c = coordination.get_coordinator(url, b'python-member')
    c.start(start_heart=True)
    c.join_group_create(group, capabilities={'weight': 1})
    time.sleep(0.5)
    members = c.get_members(group).get()
    caps = {m.decode(): c.get_member_capabilities(group, m).get() for m in members}
    ring = hashring.HashRing([])
    for m in members:
        w = caps[m.decode()].get('weight', 1) if isinstance(caps[m.decode()], dict) else 1
        ring.add_node(m, w)
    owners = {k: sorted(x.decode() for x in ring.get_nodes(k.encode())) for k in keys}
    print(json.dumps({'members': sorted(caps), 'weights': caps, 'owners': owners}))
    sys.stdout.flush()
    time.sleep(float(30))
    """

    @Test func toozAndNephometerSeeTheSameMembersAndOwners() async throws {
        let etcd = try EtcdDaemon()
        let venv = try PythonVenv.ensure(name: "tooz", packages: ["tooz", "etcd3gw"])
        let dir = TemporaryDirectory("tooz")
        let script = try dir.write("tooz_member.py", Self.script)
        let ours = EtcdMembership(endpoint: etcd.endpoint, memberID: "swift-member", ttl: 10, logger: Logger(label: "swift"))
        try await ours.join(group: "compute-host-1", weight: 2)
        let keys = (0..<200).map { "11111111-0000-0000-0000-\(String(format: "%012d", $0))" }
        let python = try BackgroundProcess("\(venv)/bin/python", [script, "etcd3+http://127.0.0.1:\(etcd.clientPort)?timeout=10", "compute-host-1"] + keys,
                                           logDirectory: dir.path, name: "tooz")
        defer { python.stop() }
        #expect(eventually(timeout: 60) { python.stdout.contains("owners") }, "\(python.stderr)")
        let theirs = try JSONParser.parse(python.stdout.split(separator: "\n").first.map(String.init) ?? "")
        // tooz sees our member and its weight …
        #expect(theirs["members"] == .array([.string("python-member"), .string("swift-member")]))
        #expect(theirs["weights"]?["swift-member"] == .object(["weight": .int(2)]))
        // … we see tooz's …
        #expect(await eventuallyAsync(timeout: 5) { await ours.members(of: "compute-host-1") == ["python-member": 1, "swift-member": 2] })
        // … and both place every key on the same member.
        let ring = HashRing(members: await ours.members(of: "compute-host-1") ?? [:])
        for k in keys {
            #expect(theirs["owners"]?[k] == .array(ring.owners(of: k).map { .string($0) }), "\(k)")
        }
        await ours.stop()
        etcd.stop()
    }
}
