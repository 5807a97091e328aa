#if canImport(Glibc)
import Glibc
#endif

/// Every process we ship ignores SIGPIPE. libvirt's client library (and any socket a C library or
/// SwiftNIO writes to) raises it when the peer closes the connection — libvirtd stopping for a package
/// upgrade, a broker or collector restarting — and its default action kills the process without a
/// word. Ignored, the write fails with EPIPE instead and the caller logs and reconnects.
public enum BrokenPipes {
    public static func ignore() {
        signal(SIGPIPE, SIG_IGN)
    }
}
