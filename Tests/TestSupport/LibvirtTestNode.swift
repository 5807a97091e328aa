import Foundation

/// Writes node files for libvirt's test driver (`test:///absolute/path.xml`): real libvirt, no daemon.
public struct LibvirtTestNode {
    public enum NovaMetadata { case v11, v10, none }

    public struct Domain {
        public var index: Int
        public var name: String
        public var uuid: String
        public var displayName: String
        public var nova: NovaMetadata = .v11
        public var running = true
        public var vcpus = 2
        public var memoryKiB = 2_097_152
        public var flavor = "m1.small"
        public var flavorID: String? = "2"
        public var flavorDisk = 20
        public var flavorEphemeral = 0
        public var userID = "75736572-2d69-6420-2020-202020202020"
        public var projectID = "6f70656e-7374-6163-6b20-70726f6a6563"
        public var imageID: String? = "696d6167-652d-6964-2020-202020202020"
        public var imageMeta = false
        public var disks: [String] = ["vda"]
        /// Disks listed without a <source> (Ceilometer ignores them).
        public var sourcelessDisks: [String] = []
        public var interfaces: [String] = []
        /// Interface target → filterref name.
        public var filterRefs: [String: String] = [:]

        public init(index: Int) {
            self.index = index
            name = String(format: "instance-%08x", index)
            uuid = String(format: "11111111-0000-0000-0000-%012d", index)
            displayName = "vm-\(index)"
        }

        func xml() -> String {
            var x = "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
            x += "    <name>\(name)</name><uuid>\(uuid)</uuid>\n"
            switch nova {
            case .none: break
            case .v11, .v10:
                let ns = nova == .v11 ? "1.1" : "1.0"
                x += "    <metadata><nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/\(ns)\">\n"
                x += "      <nova:package version=\"27.0.0\"/><nova:name>\(displayName)</nova:name>\n"
                x += "      <nova:flavor name=\"\(flavor)\"\(flavorID.map { " id=\"\($0)\"" } ?? "")><nova:memory>\(memoryKiB / 1024)</nova:memory><nova:disk>\(flavorDisk)</nova:disk><nova:swap>0</nova:swap><nova:ephemeral>\(flavorEphemeral)</nova:ephemeral><nova:vcpus>\(vcpus)</nova:vcpus></nova:flavor>\n"
                x += "      <nova:owner><nova:user uuid=\"\(userID)\">admin</nova:user><nova:project uuid=\"\(projectID)\">admin</nova:project></nova:owner>\n"
                if let imageID { x += "      <nova:root type=\"image\" uuid=\"\(imageID)\"/>\n" }
                if imageMeta, let imageID {
                    x += "      <nova:image uuid=\"\(imageID)\"><nova:containerFormat>bare</nova:containerFormat><nova:diskFormat>qcow2</nova:diskFormat><nova:minDisk>1</nova:minDisk><nova:minRam>0</nova:minRam><nova:properties><nova:property name=\"os_distro\">cirros</nova:property></nova:properties></nova:image>\n"
                }
                x += "    </nova:instance></metadata>\n"
            }
            x += "    <memory unit='KiB'>\(memoryKiB)</memory><currentMemory unit='KiB'>\(memoryKiB)</currentMemory><vcpu>\(vcpus)</vcpu>\n"
            x += "    <os><type arch='x86_64'>hvm</type></os>\n    <devices>\n"
            for d in disks {
                x += "      <disk type='file' device='disk'><source file='/var/lib/nova/instances/\(uuid)/disk.\(d)'/><target dev='\(d)' bus='virtio'/></disk>\n"
            }
            for d in sourcelessDisks {
                x += "      <disk type='file' device='cdrom'><target dev='\(d)' bus='sata'/></disk>\n"
            }
            for (i, t) in interfaces.enumerated() {
                x += "      <interface type='network'><mac address='fa:16:3e:\(String(format: "%02x:%02x:%02x", index / 256 % 256, index % 256, i))'/><source network='default'/><target dev='\(t)'/>"
                if let f = filterRefs[t] { x += "<filterref filter='\(f)'><parameter name='IP' value='10.0.0.\(i + 1)'/></filterref>" }
                x += "</interface>\n"
            }
            x += "      <memballoon model='virtio'/>\n    </devices>\n"
            if !running { x += "    <test:runstate>5</test:runstate>\n" }
            x += "  </domain>\n"
            return x
        }
    }

    public var domains: [Domain]

    public init(domains: [Domain]) { self.domains = domains }

    /// `count` running domains with Nova metadata, `disks` disks and `interfaces` interfaces each.
    public static func uniform(count: Int, disks: Int = 1, interfaces: Int = 1) -> LibvirtTestNode {
        LibvirtTestNode(domains: (0..<count).map { i in
            var d = Domain(index: i)
            d.disks = (0..<disks).map { "vd\(Character(UnicodeScalar(UInt8(97 + $0))))" }
            d.interfaces = (0..<interfaces).map { String(format: "tap%08x-%d", i, $0) }
            return d
        })
    }

    public var xml: String {
        var x = "<node>\n  <cpu><mhz>2400</mhz><model>x86_64</model><active>16</active><nodes>1</nodes><sockets>1</sockets><cores>8</cores><threads>2</threads></cpu>\n  <memory>67108864</memory>\n"
        for d in domains { x += d.xml() }
        x += "  <network><name>default</name><bridge name='virbr0'/><forward/><ip address='192.168.122.1' netmask='255.255.255.0'/></network>\n</node>\n"
        return x
    }

    /// Writes the node file and returns its `test:///` URI.
    public func write(to path: String) throws -> String {
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        return "test://\(path)"
    }
}
