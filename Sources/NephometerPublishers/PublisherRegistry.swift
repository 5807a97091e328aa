import Logging
import NephometerCore
import Synchronization

/// A kind of publisher, registered by URL scheme: it checks a URL's options (what `validate` runs, and
/// the first step of start-up, so both accept exactly the same URLs) and makes the publisher.
///
/// A new publisher is a folder of this module with its `PublisherKind`, its README (options) and its
/// tests, plus one line in `PublisherRegistry.builtins`; code outside the module (a test, a plugin)
/// adds one with `PublisherRegistry.register`.
public protocol PublisherKind: Sendable {
    /// URL schemes this kind publishes to (`http`, `https`).
    var schemes: [String] { get }
    /// Checks the URL and its options without creating anything (no file, socket or thread).
    func check(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError)
    /// Makes the publisher; throws only what `check` throws.
    func make(_ url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> any Publisher
}

/// Publisher kinds by URL scheme.
public enum PublisherRegistry {
    /// The publishers this build has.
    public static let builtins: [any PublisherKind] = [FilePublisherKind(), UDPPublisherKind(), HTTPPublisherKind(), NotifierPublisherKind(), GnocchiPublisherKind()]

    /// Ceilometer publisher schemes without a kind here: a warning, and skipped at run time, as
    /// Ceilometer skips publishers it cannot load.
    public static let recognized = ["prometheus", "zaqar", "opentelemetryhttp", "tcp",
                                    "test", "kafka", "direct", "database", "panko", "monasca"]

    /// Kinds in registration order (the order messages list them in).
    private static let kinds = Mutex<[any PublisherKind]>(builtins)

    /// Adds (or replaces) the kind of its schemes.
    public static func register(_ kind: any PublisherKind) {
        kinds.withLock { k in
            k.removeAll { !Set($0.schemes).isDisjoint(with: kind.schemes) }
            k.append(kind)
        }
    }

    public static func kind(for scheme: String) -> (any PublisherKind)? { kinds.withLock { $0.first { $0.schemes.contains(scheme) } } }

    /// Schemes with a kind, in registration order.
    public static var implemented: [String] { kinds.withLock { $0.flatMap(\.schemes) } }
}

struct FilePublisherKind: PublisherKind {
    let schemes = ["file"]
    func check(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError) { _ = try FilePublisher.parse(url) }
    func make(_ url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> any Publisher {
        try FilePublisher(url: url, logger: logger)
    }
}

struct UDPPublisherKind: PublisherKind {
    let schemes = ["udp"]
    func check(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError) { _ = try UDPPublisher.parse(url) }
    func make(_ url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> any Publisher {
        try UDPPublisher(url: url, secret: context.telemetrySecret, logger: logger)
    }
}

struct HTTPPublisherKind: PublisherKind {
    let schemes = ["http", "https"]
    func check(_ url: PublisherURL, context: PublisherContext) throws(PublisherURLError) {
        _ = try HTTPTransport.tls(try HTTPPublisherOptions(url))
    }
    func make(_ url: PublisherURL, context: PublisherContext, logger: Logger) throws(PublisherURLError) -> any Publisher {
        try HTTPPublisher(url: url, context: context, logger: logger)
    }
}
