import CLibvirt
import CLibvirtEvents
import Foundation
import Synchronization

/// libvirt's event loop, on a thread of its own for the life of the process (`CLibvirtEvents`). It
/// serves only the connection opened for domain events: libvirt's default loop also watched every
/// polling connection's socket, so each RPC reply woke its thread too (0.3 s of CPU per cycle at 1000
/// domains behind libvirtd, polled every 2 s). It must be registered before the first connection opens;
/// `LibvirtConnection.open` makes sure. `NEPHOMETER_LIBVIRT_EVENTS=0` leaves it out.
enum LibvirtEventLoop {
    /// True when the loop runs; false when it is turned off or libvirt could not register it.
    static let running: Bool = {
        if ProcessInfo.processInfo.environment["NEPHOMETER_LIBVIRT_EVENTS"] == "0" { return false }
        return nephometer_libvirt_events_start() == 0
    }()
}

/// Domains whose state or metadata changed since discovery last looked, as libvirt's lifecycle and
/// metadata-change events report them (Nova rewrites its metadata element when an instance is
/// renamed or resized; starting, stopping and redefining a domain are lifecycle events). Discovery
/// reads the Nova metadata and XML of these domains again, rather than trusting its cache.
public final class DomainChanges: Sendable {
    private struct State {
        var uuids: Set<String> = []
        /// Everything may have changed unseen (a new connection, whose events start now).
        var all = true
        var events = 0
    }
    private let state = Mutex(State())

    public init() {}

    func note(_ uuid: String) {
        state.withLock {
            $0.uuids.insert(uuid)
            $0.events += 1
        }
    }

    /// A connection without events, or a new one: nothing discovery cached can be trusted.
    func noteAll() { state.withLock { $0.all = true } }

    /// The changed domains since the last call (`all`: every domain), and forgets them.
    func take() -> (all: Bool, uuids: Set<String>) {
        state.withLock { s in
            defer {
                s.uuids = []
                s.all = false
            }
            return (s.all, s.uuids)
        }
    }

    /// Puts back domains discovery could not read again this time (they stay changed).
    func restore(_ uuids: some Sequence<String>) { state.withLock { $0.uuids.formUnion(uuids) } }

    /// Events received since start.
    public var events: Int { state.withLock { $0.events } }
}

extension LibvirtConnection {
    /// A second connection to `uri` that delivers lifecycle and metadata-change events into `changes`
    /// (the only connection the event loop serves), or nil when events are off, the URI is libvirt's
    /// in-process test driver (nothing outside the process can change it), or the driver refuses.
    /// Blocking (RPCs): call it through a `CallGate`.
    static func openEvents(uri: String, changes: DomainChanges) -> LibvirtConnection? {
        guard LibvirtEventLoop.running, !uri.hasPrefix("test:///") else { return nil }
        nephometer_libvirt_events_accept(1)
        defer { nephometer_libvirt_events_accept(0) }
        guard let p = virConnectOpenReadOnly(uri) else { return nil }
        let c = LibvirtConnection(uri: uri, pointer: p)
        return c.register(changes) ? c : nil
    }

    private func register(_ changes: DomainChanges) -> Bool {
        let lifecycle: @convention(c) (virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?) -> Void = { _, dom, _, _, opaque in
            DomainChangesCallback.noted(dom, opaque)
        }
        let metadata: @convention(c) (virConnectPtr?, virDomainPtr?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = { _, dom, _, _, opaque in
            DomainChangesCallback.noted(dom, opaque)
        }
        let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { opaque in
            if let opaque { Unmanaged<DomainChanges>.fromOpaque(opaque).release() }
        }
        var ids: [Int32] = []
        for (event, callback) in [(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue, unsafeBitCast(lifecycle, to: virConnectDomainEventGenericCallback.self)),
                                  (VIR_DOMAIN_EVENT_ID_METADATA_CHANGE.rawValue, unsafeBitCast(metadata, to: virConnectDomainEventGenericCallback.self))] {
            let opaque = Unmanaged.passRetained(changes).toOpaque()
            let id = virConnectDomainEventRegisterAny(pointer, nil, Int32(event), callback, opaque, release)
            if id < 0 {
                Unmanaged<DomainChanges>.fromOpaque(opaque).release()
                for id in ids { virConnectDomainEventDeregisterAny(pointer, id) }
                return false
            }
            ids.append(id)
        }
        eventCallbacks.withLock { $0 = ids }
        return true
    }
}

enum DomainChangesCallback {
    /// Runs on the event loop's thread: the UUID is held by the domain handle, no RPC.
    static func noted(_ dom: virDomainPtr?, _ opaque: UnsafeMutableRawPointer?) {
        guard let dom, let opaque else { return }
        var buf = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(dom, &buf) == 0 else { return }
        let uuid = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        Unmanaged<DomainChanges>.fromOpaque(opaque).takeUnretainedValue().note(uuid)
    }
}
