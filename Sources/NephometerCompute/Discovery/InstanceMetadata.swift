import NephometerCore
import Synchronization

/// The `resource_metadata` trees of one instance in one state, built once when discovery first sees
/// that state and shared by every sample of every cycle until it changes: the instance's own tree, one
/// per disk (`disk_name` added) and per interface (its `name`, `mac`, `fref`, `parameters`, `vnic_name`
/// added), and the `cpu` sample's (`cpu_number` added, per vCPU count). Each tree shares its JSON
/// rendering (`MetadataObject.sharingRenderings`), so publishers render it once, not once per sample.
public final class InstanceMetadata: Sendable {
    public let base: MetadataObject
    let disks: [String: MetadataObject]
    let interfaces: [String: MetadataObject]
    private let cpu = Mutex<(vcpus: Int, tree: MetadataObject)?>(nil)

    init(base: MetadataObject, instance: Instance) {
        self.base = base.sharingRenderings()
        var disks: [String: MetadataObject] = [:]
        for d in instance.disks { disks[d.device] = Self.merged(base, ["disk_name": .string(d.device)]) }
        var interfaces: [String: MetadataObject] = [:]
        for i in instance.interfaces { interfaces[i.name] = Self.merged(base, ComputeMeters.nicMetadata(i)) }
        self.disks = disks
        self.interfaces = interfaces
    }

    static func merged(_ base: MetadataObject, _ extra: MetadataObject) -> MetadataObject {
        var m = base
        // Room for the extra keys first: appending them to the copy would double its storage (six
        // trees per instance, a thousand instances: ~4 MiB of the agent's heap).
        m.reserveCapacity(base.count + extra.count)
        m.update(with: extra)
        return m.sharingRenderings()
    }

    /// The tree of one meter value.
    func tree(_ variant: MetadataVariant) -> MetadataObject {
        switch variant {
        case .instance: return base
        case .disk(let device): return disks[device] ?? Self.merged(base, ["disk_name": .string(device)])
        case .interface(let i): return interfaces[i.name] ?? Self.merged(base, ComputeMeters.nicMetadata(i))
        case .cpu(let vcpus):
            return cpu.withLock { c in
                if let c, c.vcpus == vcpus { return c.tree }
                let tree = Self.merged(base, ["cpu_number": .int(vcpus)])
                c = (vcpus, tree)
                return tree
            }
        }
    }
}

/// Which of an instance's metadata trees a meter value carries.
public enum MetadataVariant: Sendable {
    case instance
    case disk(String)
    case interface(Instance.Interface)
    case cpu(Int)
}
