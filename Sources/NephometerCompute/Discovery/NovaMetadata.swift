/// Reads Nova's libvirt metadata (namespaces `…/nova/1.1`, then `…/nova/1.0`) and the domain XML into an
/// `Instance`, with Ceilometer's rules: a domain without the metadata, or missing flavor, owner or name,
/// is not a Nova instance and is skipped.
public enum NovaMetadata {
    public static let namespaces = [
        "http://openstack.org/xmlns/libvirt/nova/1.1",
        "http://openstack.org/xmlns/libvirt/nova/1.0",
    ]

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The parts of a domain that do not change while it exists (cached by discovery).
    public struct Static: Sendable, Hashable {
        public var id: String
        public var displayName: String?
        public var flavor: Instance.Flavor
        public var imageID: String?
        public var imageMeta: MetadataObject?
        public var osType: String?
        public var architecture: String?
        public var userID: String
        public var projectID: String
        public var disks: [Instance.Disk]
        public var interfaces: [Instance.Interface]
    }

    public static func parse(uuid: String, metadataXML: String, domainXML: String) throws -> Static {
        let meta = try XMLElement.parse(metadataXML)
        let dom = try XMLElement.parse(domainXML)
        guard let flavorXML = meta.child("flavor"), let flavorName = flavorXML["name"] else {
            throw Problem(description: "metadata has no flavor element with a name")
        }
        guard let userID = meta.find("owner/user")?["uuid"], let projectID = meta.find("owner/project")?["uuid"] else {
            throw Problem(description: "metadata has no owner/user and owner/project uuids")
        }
        guard let nameXML = meta.child("name") else { throw Problem(description: "metadata has no name element") }
        guard let osTypeXML = dom.find("os/type"), let arch = osTypeXML["arch"] else {
            throw Problem(description: "domain XML has no os/type element with an arch")
        }
        func int(_ path: String) throws -> Int {
            guard let e = flavorXML.child(path) else { return 0 }
            guard let v = Int(e.text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw Problem(description: "flavor \(path) is not a whole number: '\(e.text)'")
            }
            return v
        }
        var extra: [(String, String?)]?
        if let specs = flavorXML.child("extraSpecs") {
            extra = specs.children("extraSpec").map { ($0["name"] ?? "", $0.text.isEmpty ? nil : $0.text) }
        }
        let flavor = Instance.Flavor(id: flavorXML["id"] ?? flavorName, name: flavorName, vcpus: try int("vcpus"),
                                     ram: try int("memory"), disk: try int("disk"), ephemeral: try int("ephemeral"),
                                     swap: try int("swap"), extraSpecs: extra)
        let imageID = meta.children("root").first { $0["type"] == "image" }?["uuid"]
        var imageMeta: MetadataObject?
        if let im = meta.child("image") {
            var o = MetadataObject()
            if let ref = im["uuid"] { o["base_image_ref"] = .string(ref) }
            for (tag, key) in [("containerFormat", "container_format"), ("diskFormat", "disk_format"),
                               ("minDisk", "min_disk"), ("minRam", "min_ram")] {
                if let e = im.child(tag) { o[key] = .string(e.text) }
            }
            for p in im.child("properties")?.children("property") ?? [] {
                if let n = p["name"] { o[n] = .string(p.text) }
            }
            imageMeta = o
        }
        var disks: [Instance.Disk] = []
        var interfaces: [Instance.Interface] = []
        if let devices = dom.child("devices") {
            for disk in devices.children("disk") where disk.child("source") != nil {
                if let dev = disk.child("target")?["dev"] { disks.append(Instance.Disk(device: dev)) }
            }
            for iface in devices.children("interface") {
                guard let dev = iface.child("target")?["dev"] else { continue }
                let fref = iface.child("filterref")
                var params: [(String, String?)] = []
                for p in fref?.children("parameter") ?? [] {
                    if let n = p["name"] { params.append((n.lowercased(), p["value"])) }
                }
                params.append(("interfaceid", iface.find("virtualport/parameters")?["interfaceid"]))
                params.append(("bridge", iface.child("source")?["bridge"]))
                interfaces.append(Instance.Interface(name: dev, mac: iface.child("mac")?["address"],
                                                     filterRef: fref?["filter"], parameters: params))
            }
        }
        return Static(id: uuid, displayName: nameXML.text, flavor: flavor, imageID: imageID, imageMeta: imageMeta,
                      osType: osTypeXML.text, architecture: arch, userID: userID, projectID: projectID,
                      disks: disks, interfaces: interfaces)
    }
}

import NephometerCore
import Foundation
