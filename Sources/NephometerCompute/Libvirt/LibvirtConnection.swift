import CLibvirt
import Dispatch
import Foundation
import Synchronization

/// A libvirt error: the code and the message libvirt gave.
public struct LibvirtError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let domain: Int32
    public let message: String
    public let operation: String

    /// The domain disappeared between listing and querying it.
    public var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }
    /// The call is not supported by this driver.
    public var isUnsupported: Bool {
        code == Int32(VIR_ERR_NO_SUPPORT.rawValue) || code == Int32(VIR_ERR_ARGUMENT_UNSUPPORTED.rawValue)
    }
    /// The domain has no metadata element for the requested namespace.
    public var isNoMetadata: Bool { code == Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue) }
    /// The domain is not running.
    public var isInactive: Bool { code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }
    /// The connection to libvirt is gone (daemon restarted, socket closed).
    public var isDisconnect: Bool {
        let systemOrInternal = code == Int32(VIR_ERR_SYSTEM_ERROR.rawValue) || code == Int32(VIR_ERR_INTERNAL_ERROR.rawValue)
        let remote = domain == Int32(VIR_FROM_REMOTE.rawValue) || domain == Int32(VIR_FROM_RPC.rawValue)
        return (systemOrInternal && remote) || code == Int32(VIR_ERR_NO_CONNECT.rawValue)
            || code == Int32(VIR_ERR_INVALID_CONN.rawValue)
    }

    public var description: String { "\(operation): \(message)" }

    static func last(_ operation: String) -> LibvirtError {
        guard let e = virGetLastError() else {
            return LibvirtError(code: -1, domain: 0, message: "unknown libvirt error", operation: operation)
        }
        let msg = e.pointee.message.map { String(cString: $0) } ?? "libvirt error \(e.pointee.code)"
        return LibvirtError(code: e.pointee.code, domain: e.pointee.domain, message: msg, operation: operation)
    }
}

/// A reference to a libvirt domain, freed when the last Swift reference goes away.
public final class LibvirtDomain: @unchecked Sendable {
    let pointer: virDomainPtr
    public let uuid: String
    public let name: String

    init(_ pointer: virDomainPtr) {
        self.pointer = pointer
        var buf = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        _ = virDomainGetUUIDString(pointer, &buf)
        uuid = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        name = virDomainGetName(pointer).map { String(cString: $0) } ?? ""
    }
    deinit { virDomainFree(pointer) }
}

/// `virDomainGetInfo`.
public struct DomainInfo: Sendable, Hashable {
    /// libvirt state, 0–7 (nostate, running, blocked, paused, shutdown, shutoff, crashed, pmsuspended).
    public let state: Int
    public let maxMemoryKiB: UInt64
    public let memoryKiB: UInt64
    public let vcpus: Int
    public let cpuTimeNs: UInt64
}

/// A value of a libvirt typed parameter.
public enum TypedValue: Sendable, Hashable {
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case string(String)

    public var uint64: UInt64? {
        switch self {
        case .int(let v): return v >= 0 ? UInt64(v) : nil
        case .uint(let v): return v
        case .double(let v): return v >= 0 && v < 1.8e19 ? UInt64(v) : nil
        case .bool(let b): return b ? 1 : 0
        case .string: return nil
        }
    }
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// One domain's record of `virConnectGetAllDomainStats`.
public struct DomainStatsRecord: Sendable {
    public let domain: LibvirtDomain
    public let params: [String: TypedValue]
}

/// Stats groups of `virConnectGetAllDomainStats`.
public struct DomainStatsGroups: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let state = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_STATE.rawValue)
    public static let cpuTotal = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_CPU_TOTAL.rawValue)
    public static let balloon = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_BALLOON.rawValue)
    public static let vcpu = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_VCPU.rawValue)
    public static let interface = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_INTERFACE.rawValue)
    public static let block = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_BLOCK.rawValue)
    public static let perf = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_PERF.rawValue)
}

/// `virDomainBlockStats` (plus the latency totals of `virDomainBlockStatsFlags` when available).
public struct BlockStats: Sendable, Hashable {
    public var readRequests: Int64
    public var readBytes: Int64
    public var writeRequests: Int64
    public var writeBytes: Int64
    public var errors: Int64
    public var readTotalTimeNs: Int64?
    public var writeTotalTimeNs: Int64?
}

/// `virDomainGetBlockInfo`.
public struct BlockInfo: Sendable, Hashable {
    public let capacity: UInt64
    public let allocation: UInt64
    public let physical: UInt64
}

/// `virDomainInterfaceStats`.
public struct InterfaceStats: Sendable, Hashable {
    public var rxBytes: Int64, rxPackets: Int64, rxErrors: Int64, rxDrop: Int64
    public var txBytes: Int64, txPackets: Int64, txErrors: Int64, txDrop: Int64
}

/// The only Swift type that talks to libvirt's C API.
///
/// libvirt calls block (a busy domain, a hung QEMU monitor, a slow daemon), so every method here is
/// synchronous and runs through the session's `CallGate`: on libvirt threads of their own, never on
/// Swift's cooperative pool, each under a deadline.
public final class LibvirtConnection: @unchecked Sendable {
    public let uri: String
    let pointer: virConnectPtr
    /// Ids of the domain-event callbacks registered on this connection (`openEvents`).
    let eventCallbacks = Mutex<[Int32]>([])
    /// The connection that delivers this one's domain events; closed with it.
    let events = Mutex<LibvirtConnection?>(nil)

    private static let silenceErrors: Void = {
        // libvirt prints every error to stderr unless an error handler is set; we report errors ourselves.
        virSetErrorFunc(nil, { _, _ in })
    }()

    init(uri: String, pointer: virConnectPtr) {
        self.uri = uri
        self.pointer = pointer
    }

    deinit {
        // Registered callbacks hold a reference to the connection: deregister them first.
        for id in eventCallbacks.withLock({ $0 }) { virConnectDomainEventDeregisterAny(pointer, id) }
        virConnectClose(pointer)
    }

    /// Opens a read-only connection (as Ceilometer does). Blocking: call it through a `CallGate`.
    public static func open(uri: String) throws -> LibvirtConnection {
        _ = silenceErrors
        // Before the connection opens, so that it can deliver domain events.
        _ = LibvirtEventLoop.running
        guard let p = virConnectOpenReadOnly(uri) else { throw LibvirtError.last("open \(uri)") }
        return LibvirtConnection(uri: uri, pointer: p)
    }

    public var isAlive: Bool { virConnectIsAlive(pointer) == 1 }

    /// All domains, running and shut off. Blocking: call it through a `CallGate`.
    public func allDomains() throws -> [LibvirtDomain] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let n = virConnectListAllDomains(pointer, &list, 0)
        guard n >= 0, let list else { throw LibvirtError.last("list domains") }
        defer { free(list) }
        var out: [LibvirtDomain] = []
        out.reserveCapacity(Int(n))
        for i in 0..<Int(n) { if let d = list[i] { out.append(LibvirtDomain(d)) } }
        return out
    }

    /// The domain with this UUID, looked up on this connection (a domain handle belongs to the
    /// connection that made it, and its calls travel on that connection).
    public func lookup(uuid: String) throws -> LibvirtDomain {
        guard let d = virDomainLookupByUUIDString(pointer, uuid) else { throw LibvirtError.last("look up \(uuid)") }
        return LibvirtDomain(d)
    }

    /// `virDomainListGetStats` of the given domains for the given groups (one RPC for all of them).
    /// With `nowait`, domains busy with a job report what is instantly available. Blocking: call it
    /// through a `CallGate` (a domain whose QEMU monitor hangs blocks the call even with `nowait`).
    public func stats(of domains: [LibvirtDomain], groups: DomainStatsGroups, nowait: Bool = true) throws -> [DomainStatsRecord] {
        guard !domains.isEmpty else { return [] }
        var list: [virDomainPtr?] = domains.map(\.pointer) + [nil]
        var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
        var flags: UInt32 = 0
        if nowait { flags |= VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT.rawValue }
        var n = list.withUnsafeMutableBufferPointer { virDomainListGetStats($0.baseAddress, groups.rawValue, &records, flags) }
        if n < 0, nowait {
            // Drivers older than libvirt 4.5 reject NOWAIT; retry without it.
            n = list.withUnsafeMutableBufferPointer { virDomainListGetStats($0.baseAddress, groups.rawValue, &records, 0) }
        }
        guard n >= 0, let records else { throw LibvirtError.last("get domain stats") }
        defer { virDomainStatsRecordListFree(records) }
        var out: [DomainStatsRecord] = []
        out.reserveCapacity(Int(n))
        for i in 0..<Int(n) {
            guard let rec = records[i], let dom = rec.pointee.dom else { continue }
            // The record owns its domain reference; take our own.
            virDomainRef(dom)
            out.append(DomainStatsRecord(domain: LibvirtDomain(dom),
                                         params: Self.typedParams(rec.pointee.params, Int(rec.pointee.nparams))))
        }
        return out
    }

    static func typedParams(_ params: virTypedParameterPtr?, _ count: Int) -> [String: TypedValue] {
        guard let params else { return [:] }
        var out: [String: TypedValue] = [:]
        out.reserveCapacity(count)
        for i in 0..<count {
            var p = params[i]
            let field = withUnsafeBytes(of: &p.field) { raw -> String in
                let bytes = raw.bindMemory(to: UInt8.self)
                let len = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<len]), as: UTF8.self)
            }
            let value: TypedValue
            switch Int32(p.type) {
            case Int32(VIR_TYPED_PARAM_INT.rawValue): value = .int(Int64(p.value.i))
            case Int32(VIR_TYPED_PARAM_UINT.rawValue): value = .uint(UInt64(p.value.ui))
            case Int32(VIR_TYPED_PARAM_LLONG.rawValue): value = .int(p.value.l)
            case Int32(VIR_TYPED_PARAM_ULLONG.rawValue): value = .uint(p.value.ul)
            case Int32(VIR_TYPED_PARAM_DOUBLE.rawValue): value = .double(p.value.d)
            case Int32(VIR_TYPED_PARAM_BOOLEAN.rawValue): value = .bool(p.value.b != 0)
            case Int32(VIR_TYPED_PARAM_STRING.rawValue): value = .string(p.value.s.map { String(cString: $0) } ?? "")
            default: continue
            }
            out[field] = value
        }
        return out
    }

    // MARK: Per-domain calls (synchronous; call them inside `run`)

    public func info(_ d: LibvirtDomain) throws -> DomainInfo {
        var i = virDomainInfo()
        guard virDomainGetInfo(d.pointer, &i) == 0 else { throw LibvirtError.last("get info of \(d.uuid)") }
        return DomainInfo(state: Int(i.state), maxMemoryKiB: UInt64(i.maxMem), memoryKiB: UInt64(i.memory),
                          vcpus: Int(i.nrVirtCpu), cpuTimeNs: UInt64(i.cpuTime))
    }

    public func id(_ d: LibvirtDomain) -> Int {
        let v = virDomainGetID(d.pointer)
        return v == UInt32.max ? -1 : Int(v)
    }

    /// The metadata element for a namespace URI, or nil when the domain has none.
    public func metadata(_ d: LibvirtDomain, namespace: String) throws -> String? {
        guard let p = virDomainGetMetadata(d.pointer, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), namespace, 0) else {
            let e = LibvirtError.last("get metadata of \(d.uuid)")
            if e.isNoMetadata { return nil }
            throw e
        }
        defer { free(p) }
        return String(cString: p)
    }

    public func xml(_ d: LibvirtDomain) throws -> String {
        guard let p = virDomainGetXMLDesc(d.pointer, 0) else { throw LibvirtError.last("get XML of \(d.uuid)") }
        defer { free(p) }
        return String(cString: p)
    }

    private static let memoryStatNames: [Int32: String] = [
        0: "swap_in", 1: "swap_out", 2: "major_fault", 3: "minor_fault", 4: "unused", 5: "available",
        6: "actual", 7: "rss", 8: "usable", 9: "last_update", 10: "disk_caches",
        11: "hugetlb_pgalloc", 12: "hugetlb_pgfail",
    ]

    /// `virDomainMemoryStats`, keyed by the names the Python binding uses (`actual`, `rss`, `usable`, …).
    public func memoryStats(_ d: LibvirtDomain) throws -> [String: UInt64] {
        var stats = [virDomainMemoryStatStruct](repeating: virDomainMemoryStatStruct(), count: 16)
        let n = virDomainMemoryStats(d.pointer, &stats, UInt32(stats.count), 0)
        guard n >= 0 else { throw LibvirtError.last("get memory stats of \(d.uuid)") }
        var out: [String: UInt64] = [:]
        for s in stats.prefix(Int(n)) { if let name = Self.memoryStatNames[s.tag] { out[name] = UInt64(s.val) } }
        return out
    }

    public func blockStats(_ d: LibvirtDomain, device: String) throws -> BlockStats {
        var s = virDomainBlockStatsStruct()
        guard virDomainBlockStats(d.pointer, device, &s, MemoryLayout<virDomainBlockStatsStruct>.size) == 0 else {
            throw LibvirtError.last("get block stats of \(d.uuid) \(device)")
        }
        var out = BlockStats(readRequests: s.rd_req, readBytes: s.rd_bytes, writeRequests: s.wr_req,
                             writeBytes: s.wr_bytes, errors: s.errs)
        // Latency totals come from the flags variant, which not every driver has.
        var nparams: Int32 = 0
        if virDomainBlockStatsFlags(d.pointer, device, nil, &nparams, 0) == 0, nparams > 0 {
            var params = [virTypedParameter](repeating: virTypedParameter(), count: Int(nparams))
            if virDomainBlockStatsFlags(d.pointer, device, &params, &nparams, 0) == 0 {
                let typed = params.withUnsafeMutableBufferPointer { Self.typedParams($0.baseAddress, Int(nparams)) }
                out.readTotalTimeNs = typed["rd_total_times"]?.uint64.map { Int64(clamping: $0) }
                out.writeTotalTimeNs = typed["wr_total_times"]?.uint64.map { Int64(clamping: $0) }
            }
        } else {
            virResetLastError()
        }
        return out
    }

    public func blockInfo(_ d: LibvirtDomain, device: String) throws -> BlockInfo {
        var i = virDomainBlockInfo()
        guard virDomainGetBlockInfo(d.pointer, device, &i, 0) == 0 else {
            throw LibvirtError.last("get block info of \(d.uuid) \(device)")
        }
        return BlockInfo(capacity: UInt64(i.capacity), allocation: UInt64(i.allocation), physical: UInt64(i.physical))
    }

    public func interfaceStats(_ d: LibvirtDomain, device: String) throws -> InterfaceStats {
        var s = virDomainInterfaceStatsStruct()
        guard virDomainInterfaceStats(d.pointer, device, &s, MemoryLayout<virDomainInterfaceStatsStruct>.size) == 0 else {
            throw LibvirtError.last("get interface stats of \(d.uuid) \(device)")
        }
        return InterfaceStats(rxBytes: s.rx_bytes, rxPackets: s.rx_packets, rxErrors: s.rx_errs, rxDrop: s.rx_drop,
                              txBytes: s.tx_bytes, txPackets: s.tx_packets, txErrors: s.tx_errs, txDrop: s.tx_drop)
    }
}
